// An image as the float tensor [1, C, H, W] of its pixel values, unscaled: for tests that compare an op on
// tensors with the same operation on images.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "data/image.h"

namespace ssl::test {

inline Tensor as_tensor(const data::Image& img) {
  std::vector<float> v(size_t(img.numel()));
  for (int64_t c = 0; c < img.c; ++c)
    for (int64_t y = 0; y < img.h; ++y)
      for (int64_t x = 0; x < img.w; ++x) v[size_t((c * img.h + y) * img.w + x)] = img(y, x, c);
  return Tensor::from_vector(v, {1, img.c, img.h, img.w});
}

}  // namespace ssl::test

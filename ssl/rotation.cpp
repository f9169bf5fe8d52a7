#include "ssl/rotation.h"

#include <numeric>

namespace ssl {

namespace {
// Index [n-1, ..., 0]: index_select with it reverses an axis.
Tensor reversed_index(int64_t n, Device device) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.rbegin(), idx.rend(), 0);
  return Tensor::from_vector(idx, {n}, device);
}
}  // namespace

Tensor rotate90(const Tensor& images, int k) {
  SSL_CHECK(images.dim() == 4, "rotate90: expected images [N, C, H, W], got ", images.shape());
  k = ((k % 4) + 4) % 4;
  const int64_t h = images.size(2), w = images.size(3);
  SSL_CHECK(k % 2 == 0 || h == w, "rotate90: a quarter turn needs square images, got ", h, "x", w);
  NoGradGuard no_grad;
  switch (k) {
    case 1:  // out[i][j] = in[j][w-1-i]: reverse the columns, then transpose
      return index_select(images, 3, reversed_index(w, images.device())).transpose(2, 3).contiguous();
    case 2:  // out[i][j] = in[h-1-i][w-1-j]
      return index_select(index_select(images, 2, reversed_index(h, images.device())), 3,
                          reversed_index(w, images.device()));
    case 3:  // out[i][j] = in[h-1-j][i]: reverse the rows, then transpose
      return index_select(images, 2, reversed_index(h, images.device())).transpose(2, 3).contiguous();
    default:
      return images;
  }
}

RotationPrediction::RotationPrediction(nn::EncoderPtr enc) {
  encoder = register_module("encoder", std::move(enc));
  head = register_module("head", std::make_shared<nn::Linear>(encoder->feature_dim, 4));
}

std::pair<Tensor, Tensor> RotationPrediction::rotated_batch(const Tensor& images) {
  const int64_t n = images.size(0);
  std::vector<int64_t> labels(static_cast<size_t>(4 * n));
  for (int64_t i = 0; i < 4 * n; ++i) labels[size_t(i)] = i / n;
  return {cat({images, rotate90(images, 1), rotate90(images, 2), rotate90(images, 3)}, 0),
          Tensor::from_vector(labels, {4 * n}, images.device())};
}

Tensor RotationPrediction::forward(const Tensor& images) {
  SSL_CHECK(images.dim() == 4 && images.size(2) == images.size(3),
            "rotation: expected square images [N, C, S, S], got ", images.shape());
  const auto [rotated, labels] = rotated_batch(images);
  return classification_loss(head->forward(encoder->forward(rotated)), labels);
}

}  // namespace ssl

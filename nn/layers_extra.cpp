#include "nn/layers_extra.h"

#include <cmath>

namespace ssl::nn {

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, ConvTranspose2dArgs a,
                                 bool with_bias)
    : args(a) {
  SSL_CHECK(in >= 1 && out >= 1 && kernel >= 1 && a.groups >= 1 && in % a.groups == 0 && out % a.groups == 0,
            "ConvTranspose2d: channels ", in, " → ", out, ", kernel ", kernel, ", groups ", a.groups,
            " (expected positive sizes, and channels on both sides divisible by groups)");
  SSL_CHECK(a.stride >= 1 && a.padding >= 0 && a.output_padding >= 0 && a.output_padding < a.stride,
            "ConvTranspose2d: stride ", a.stride, ", padding ", a.padding, ", output_padding ",
            a.output_padding, " (expected stride >= 1, padding >= 0 and 0 <= output_padding < stride)");
  const int64_t fan_in = out / a.groups * kernel * kernel;
  const double bound = 1.0 / std::sqrt(double(fan_in));
  weight = register_parameter("weight", Tensor::uniform({in, out / a.groups, kernel, kernel}, -bound, bound));
  if (with_bias) bias = register_parameter("bias", Tensor::uniform({out}, -bound, bound));
}

Tensor ConvTranspose2d::forward(const Tensor& x) { return conv_transpose2d(x, weight, bias, args); }

UpsampleConv2d::UpsampleConv2d(int64_t in, int64_t out, bool with_bias)
    : Conv2d(in, out, 3, Conv2dArgs{1, 1, 1}, with_bias) {}

Tensor UpsampleConv2d::forward(const Tensor& x) { return upsample_conv2d(x, weight, bias); }

Dropout::Dropout(double p_) : p(p_) { SSL_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got ", p); }

Upsample::Upsample(int64_t s) : scale(s) {
  SSL_CHECK(scale >= 1, "Upsample: scale must be >= 1, got ", scale);
}

}  // namespace ssl::nn

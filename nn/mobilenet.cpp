#include "nn/mobilenet.h"

#include <cmath>

namespace ssl::nn {

namespace {

int64_t scaled(int64_t c, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(double(c) * width + 1e-9));
}
}  // namespace

ConvBNReLU::ConvBNReLU(std::shared_ptr<Conv2d> conv, int64_t channels)
    : conv_(std::move(conv)), bn_(std::make_shared<BatchNorm>(channels)) {
  append(conv_);
  append(bn_);
  append(std::make_shared<ReLU>());
}

Tensor ConvBNReLU::forward(const Tensor& x) { return bn_->forward_conv_relu(*conv_, x); }

DepthwiseSeparableConv::DepthwiseSeparableConv(int64_t in, int64_t out, int64_t stride)
    : depthwise_(conv_kaiming_fan_out(in, in, 3, Conv2dArgs{stride, 1, in})),
      pointwise_(conv_kaiming_fan_out(in, out, 1, Conv2dArgs{1, 0, 1})),
      bn_depthwise_(std::make_shared<BatchNorm>(in)),
      bn_pointwise_(std::make_shared<BatchNorm>(out)) {
  append(depthwise_);
  append(bn_depthwise_);
  append(std::make_shared<ReLU>());
  append(pointwise_);
  append(bn_pointwise_);
  append(std::make_shared<ReLU>());
}

// Each convolution, BatchNorm and ReLU run as one op (conv2d_batch_norm_relu): when training on the CPU on
// large enough planes, the convolution kernel records every output plane's moments while it is in cache, so
// BatchNorm's statistics need no second pass over the convolution's output.
Tensor DepthwiseSeparableConv::forward(const Tensor& x) {
  const Tensor h = bn_depthwise_->forward_conv_relu(*depthwise_, x);
  return bn_pointwise_->forward_conv_relu(*pointwise_, h);
}

int64_t mobilenet_stem_stride(int64_t image_size) { return image_size < 64 ? 1 : 2; }

MobileNetV1::MobileNetV1(int64_t image_size, double width, int64_t classes) {
  SSL_CHECK(image_size >= 16, "mobilenet_v1: image size must be at least 16, got ", image_size);
  SSL_CHECK(width > 0 && width <= 4, "mobilenet_v1: width multiplier must be in (0, 4], got ", width);
  SSL_CHECK(classes >= 0, "mobilenet_v1: classes must be >= 0, got ", classes);
  // (output channels, stride) of the 13 depthwise-separable blocks, from the paper's Table 1.
  static const std::pair<int64_t, int64_t> blocks[] = {{64, 1},  {128, 2},  {128, 1}, {256, 2}, {256, 1},
                                                       {512, 2}, {512, 1},  {512, 1}, {512, 1}, {512, 1},
                                                       {512, 1}, {1024, 2}, {1024, 1}};
  features = register_module("features", std::make_shared<Sequential>());
  int64_t c = scaled(32, width);
  const int64_t stem_stride = mobilenet_stem_stride(image_size);
  features->append(
      std::make_shared<ConvBNReLU>(conv_kaiming_fan_out(3, c, 3, Conv2dArgs{stem_stride, 1, 1}), c));
  for (const auto& [out, stride] : blocks) {
    const int64_t o = scaled(out, width);
    features->append(std::make_shared<DepthwiseSeparableConv>(c, o, stride));
    c = o;
  }
  channels = c;
  if (classes > 0) fc = register_module("fc", std::make_shared<Linear>(c, classes));
  feature_dim = classes > 0 ? classes : c;
}

Tensor MobileNetV1::forward(const Tensor& x) {
  Tensor h = adaptive_avg_pool2d(features->forward(x), 1, 1).flatten(1);
  return fc ? fc->forward(h) : h;
}

std::vector<std::string> MobileNetV1::layer_names() const {
  std::vector<std::string> names;
  for (size_t block = 1; block < features->size(); ++block) names.push_back(str_cat("block", block));
  return names;
}

Tensor MobileNetV1::forward_to(const Tensor& x, size_t layer) {
  const size_t blocks = features->size() - 1;  // after the stem
  SSL_CHECK(layer < blocks, "mobilenet_v1: layer ", layer, " asked for; it has ", blocks);
  return layer + 1 == blocks ? forward(x)
                             : features->forward_prefix(x, layer + 2);  // the stem + blocks 0 … layer
}

EncoderPtr mobilenet_v1(int64_t image_size, double width) {
  return std::make_shared<MobileNetV1>(image_size, width, 0);
}

std::shared_ptr<MobileNetV1> mobilenet_v1_classifier(int64_t classes, int64_t image_size, double width) {
  SSL_CHECK(classes >= 1, "mobilenet_v1_classifier: classes must be >= 1, got ", classes);
  return std::make_shared<MobileNetV1>(image_size, width, classes);
}

}  // namespace ssl::nn

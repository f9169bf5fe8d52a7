#include "nn/models.h"

#include <algorithm>
#include <charconv>

#include "nn/mobilenet.h"
#include "nn/resnet.h"
#include "nn/sgan.h"

namespace ssl::nn {

EncoderPtr convnet2(int64_t image_size, int64_t in_channels) {
  SSL_CHECK(image_size >= 4 && image_size % 4 == 0, "convnet2: image size must be a multiple of 4, got ",
            image_size);
  auto e = std::make_shared<Encoder>();
  e->append(std::make_shared<Conv2d>(in_channels, 32, 3, Conv2dArgs{1, 1, 1}));
  e->append(std::make_shared<ReLU>());
  e->append(std::make_shared<MaxPool2d>(2));
  e->append(std::make_shared<Conv2d>(32, 64, 3, Conv2dArgs{1, 1, 1}));
  e->append(std::make_shared<ReLU>());
  e->append(std::make_shared<MaxPool2d>(2));
  e->append(std::make_shared<Flatten>());
  e->feature_dim = 64 * (image_size / 4) * (image_size / 4);
  e->cut_points = {{"pool1", 3}, {"pool2", e->size()}};
  return e;
}

std::vector<std::string> Encoder::layer_names() const {
  if (cut_points.empty()) return {"output"};
  std::vector<std::string> names;
  for (const auto& point : cut_points) names.push_back(point.first);
  return names;
}

Tensor Encoder::forward_to(const Tensor& x, size_t layer) {
  const size_t last = layer_names().size() - 1;
  SSL_CHECK(layer <= last, "encoder: layer ", layer, " asked for; it has ", last + 1);
  return layer == last ? forward(x) : forward_prefix(x, cut_points[layer].second);
}

size_t Encoder::layer_index(const std::string& name) const {
  const std::vector<std::string> names = layer_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return size_t(it - names.begin());
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw Error(str_cat("encoder: no layer '", name, "'; its layers, shallowest first: ", known));
}

std::vector<std::string> encoder_names() { return {"convnet2", "mobilenet_v1", "resnet18", "sgan_trunk"}; }

namespace {
// "mobilenet_v1" is α = 1; "mobilenet_v1:ALPHA" another width multiplier, e.g. mobilenet_v1:0.5.
EncoderPtr build_mobilenet(const std::string& name, int64_t image_size) {
  const std::string prefix = "mobilenet_v1:";
  if (name.rfind(prefix, 0) != 0) return nullptr;
  const std::string text = name.substr(prefix.size());
  double width = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), width);
  SSL_CHECK(ec == std::errc() && end == text.data() + text.size() && width > 0, "model '", name,
            "': the width multiplier after 'mobilenet_v1:' must be a positive number, e.g. mobilenet_v1:0.5");
  return mobilenet_v1(image_size, width);
}

EncoderPtr build_encoder(const std::string& name, int64_t image_size) {
  if (name == "convnet2") return convnet2(image_size);
  if (name == "mobilenet_v1") return mobilenet_v1(image_size, 1.0);
  if (EncoderPtr m = build_mobilenet(name, image_size)) return m;
  // The CIFAR stem (3×3, stride 1, no max-pool) when image_size <= 64, the ImageNet stem above.
  if (name == "resnet18") return resnet18(image_size);
  if (name == "sgan_trunk") return sgan_trunk(image_size);  // the SGAN discriminator's (nn/sgan.h)
  return nullptr;
}
}  // namespace

EncoderPtr make_encoder(const std::string& name, int64_t image_size) {
  if (EncoderPtr encoder = build_encoder(name, image_size)) {
    encoder->image_size = image_size;
    return encoder;
  }
  std::string known;
  for (const auto& n : encoder_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(str_cat("unknown model '", name, "'; known models: ", known,
                      " (mobilenet_v1:ALPHA for a width ", "multiplier, e.g. mobilenet_v1:0.5)"));
}

std::string size_dependent_design(const std::string& name, int64_t image_size) {
  if (name == "mobilenet_v1" || name.rfind("mobilenet_v1:", 0) == 0)
    return str_cat("stem stride ", mobilenet_stem_stride(image_size));
  if (name == "resnet18")
    return resnet18_stem(image_size) == ResNetStem::cifar ? "CIFAR stem" : "ImageNet stem";
  return "";
}

std::shared_ptr<Sequential> projection_head(int64_t in, int64_t hidden, int64_t out) {
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Linear>(in, hidden, false), std::make_shared<BatchNorm>(hidden),
      std::make_shared<ReLU>(), std::make_shared<Linear>(hidden, out)});
}

}  // namespace ssl::nn

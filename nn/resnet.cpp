#include "nn/resnet.h"

#include <cmath>

namespace ssl::nn {

namespace {
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding) {
  return conv_kaiming_fan_out(in, out, k, Conv2dArgs{stride, padding, 1});
}

std::shared_ptr<Sequential> make_layer(int64_t in, int64_t out, int64_t stride) {
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<BasicBlock>(in, out, stride), std::make_shared<BasicBlock>(out, out, 1)});
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride) {
  conv1 = register_module("conv1", conv(in, out, 3, stride, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm>(out));
  conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
  bn2 = register_module("bn2", std::make_shared<BatchNorm>(out));
  if (stride != 1 || in != out)
    downsample =
        register_module("downsample", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                          conv(in, out, 1, stride, 0), std::make_shared<BatchNorm>(out)}));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = bn1->forward_conv_relu(*conv1, x);
  h = bn2->forward(conv2->forward(h));
  return relu(add(h, downsample ? downsample->forward(x) : x));
}

ResNet18::ResNet18(ResNetStem stem_, int64_t classes) : stem(stem_) {
  SSL_CHECK(classes >= 0, "resnet18: classes must be >= 0, got ", classes);
  conv1 =
      register_module("conv1", stem == ResNetStem::imagenet ? conv(3, 64, 7, 2, 3) : conv(3, 64, 3, 1, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm>(64));
  layer1 = register_module("layer1", make_layer(64, 64, 1));
  layer2 = register_module("layer2", make_layer(64, 128, 2));
  layer3 = register_module("layer3", make_layer(128, 256, 2));
  layer4 = register_module("layer4", make_layer(256, 512, 2));
  if (classes > 0) fc = register_module("fc", std::make_shared<Linear>(512, classes));
  feature_dim = classes > 0 ? classes : 512;
}

Tensor ResNet18::forward(const Tensor& x) {
  Tensor h = adaptive_avg_pool2d(stage_output(x, 3), 1, 1).flatten(1);
  return fc ? fc->forward(h) : h;
}

std::vector<std::string> ResNet18::layer_names() const { return {"layer1", "layer2", "layer3", "layer4"}; }

Tensor ResNet18::forward_to(const Tensor& x, size_t layer) {
  SSL_CHECK(layer < 4, "resnet18: layer ", layer, " asked for; it has 4");
  return layer == 3 ? forward(x) : stage_output(x, layer);
}

Tensor ResNet18::stage_output(const Tensor& x, size_t stage) {
  Tensor h = bn1->forward_conv_relu(*conv1, x);
  if (stem == ResNetStem::imagenet) h = max_pool2d(h, 3, 2, 1);
  const std::shared_ptr<Sequential> stages[] = {layer1, layer2, layer3, layer4};
  for (size_t i = 0; i <= stage; ++i) h = stages[i]->forward(h);
  return h;
}

EncoderPtr resnet18(int64_t image_size) {
  SSL_CHECK(image_size >= 8, "resnet18: image size must be at least 8, got ", image_size);
  return std::make_shared<ResNet18>(resnet18_stem(image_size), 0);
}

ResNetStem resnet18_stem(int64_t image_size) {
  return image_size <= 64 ? ResNetStem::cifar : ResNetStem::imagenet;
}

std::shared_ptr<ResNet18> resnet18_classifier(int64_t classes, ResNetStem stem) {
  SSL_CHECK(classes >= 1, "resnet18_classifier: classes must be >= 1, got ", classes);
  return std::make_shared<ResNet18>(stem, classes);
}

}  // namespace ssl::nn

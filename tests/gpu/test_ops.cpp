// The op layer on CUDA tensors: forward values and autograd gradients equal the CPU's for the same inputs.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "core/ops_nn.h"
#include "nn/optim.h"
#include "support/kernel_check.h"

using namespace ssl;

namespace {

// Runs f on CPU copies and on CUDA copies of `inputs` (leaves that require grad), back-propagates the sum of
// the output, and compares the outputs and every input's gradient.
void check_op_on_cuda(const std::string& name, const std::vector<Tensor>& inputs,
                      const std::function<Tensor(const std::vector<Tensor>&)>& f, double tol = 1e-4) {
  CAPTURE(name);
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& x : inputs) {
    cpu.push_back(x.clone().detach().set_requires_grad());
    gpu.push_back(x.to(Device::cuda()).detach().set_requires_grad());
  }
  const Tensor y_cpu = f(cpu), y_gpu = f(gpu);
  REQUIRE(y_gpu.device() == Device::cuda());
  test::check_close(y_gpu.to_vector<float>(), y_cpu.to_vector<double>(), tol, tol, name + " forward");
  sum(y_cpu).backward();
  sum(y_gpu).backward();
  for (size_t i = 0; i < inputs.size(); ++i)
    test::check_close(gpu[i].grad().to_vector<float>(), cpu[i].grad().to_vector<double>(), tol, tol,
                      name + " gradient of input " + std::to_string(i));
}

Tensor randn(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return Tensor::normal(s, 0, 1, gen);
}

// y times fixed random weights, so that the gradient flowing back into the op is random too: the gradient of
// sum(y) alone is all ones, which a backward kernel that sends gradients to the wrong elements can still
// match.
Tensor weighted(const Tensor& y, uint64_t seed) { return mul(y, randn(y.shape(), seed).to(y.device())); }

// int64 indices (7·i + 3) mod bound at flat position i: with more positions than bound, values repeat.
Tensor indices(const Shape& shape, int64_t bound) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = (7 * i + 3) % bound;
  return Tensor::from_vector(v, shape);
}

}  // namespace

TEST_CASE("elementwise ops with broadcasting, reductions and softmax run on CUDA as on the CPU") {
  const Tensor a = randn({7, 5}, 1), b = randn({5}, 2);
  check_op_on_cuda("add/mul broadcast", {a, b}, [](auto& v) { return mul(add(v[0], v[1]), v[1]); });
  check_op_on_cuda("relu/exp/div", {a, b}, [](auto& v) { return div(relu(v[0]), add(exp(v[1]), 1.0)); });
  check_op_on_cuda("sum over dims", {randn({4, 6, 3}, 3)}, [](auto& v) {
    return weighted(sum(v[0], {0, 2}), 31);
  });
  check_op_on_cuda("mean and max", {a}, [](auto& v) { return add(max(v[0], 1), mean(v[0], {1})); });
  check_op_on_cuda("softmax", {a}, [](auto& v) { return mul(softmax(v[0], 1), v[0]); });
  check_op_on_cuda("log_softmax on dim 0", {a}, [](auto& v) { return log_softmax(v[0], 0); });
  check_op_on_cuda("l2_normalize", {a}, [](auto& v) { return l2_normalize(v[0], 1); });
  check_op_on_cuda("transpose + contiguous", {a},
                   [](auto& v) { return weighted(v[0].t().contiguous(), 32); });
}

TEST_CASE("losses and NT-Xent run on CUDA as on the CPU, through autograd") {
  const Tensor targets = Tensor::from_vector<int64_t>({0, 3, 1, 4, 2, 2, 0}, {7});
  check_op_on_cuda("cross_entropy", {randn({7, 5}, 4)},
                   [&](auto& v) { return cross_entropy(v[0], targets.to(v[0].device())); });
  check_op_on_cuda("ntxent", {randn({16, 8}, 5)}, [](auto& v) { return ntxent(v[0], 0.5); });
  check_op_on_cuda("linear", {randn({6, 4}, 6), randn({3, 4}, 7), randn({3}, 8)},
                   [](auto& v) { return linear(v[0], v[1], v[2]); });
}

// The cases below have element counts that are not multiples of 256, the CUDA kernels' block size, so that
// the last block of each launch is partial.

TEST_CASE("convolutions and transposed convolutions run on CUDA as on the CPU, through autograd") {
  // cuDNN picks its algorithm by heuristics, possibly Winograd or FFT, whose transforms round differently
  // from a direct sum (errors relative to a whole tile, not to each element): the cuDNN cases allow 1e-3. The
  // depthwise kernel is hand-written direct sums, as on the CPU, and keeps the default.
  check_op_on_cuda(
      "conv2d 3x3 stride 2 pad 1 with bias (cuDNN)",
      {randn({2, 5, 13, 11}, 20), randn({7, 5, 3, 3}, 21), randn({7}, 22)},
      [](auto& v) {
        return weighted(conv2d(v[0], v[1], v[2], {2, 1, 1}), 23);
      },
      1e-3);
  for (int64_t stride : {1, 2})
    check_op_on_cuda("depthwise conv2d 3x3 pad 1 with bias, stride " + std::to_string(stride),
                     {randn({2, 6, 19, 17}, 24), randn({6, 1, 3, 3}, 25), randn({6}, 26)}, [stride](auto& v) {
                       return weighted(conv2d(v[0], v[1], v[2], {stride, 1, 6}), 27);
                     });
  check_op_on_cuda(
      "conv_transpose2d 4x4 stride 2 pad 1 with bias (cuDNN)",
      {randn({2, 5, 7, 6}, 28), randn({5, 4, 4, 4}, 29), randn({4}, 30)},
      [](auto& v) {
        return weighted(conv_transpose2d(v[0], v[1], v[2], {2, 1}), 31);
      },
      1e-3);
  check_op_on_cuda(
      "conv_transpose2d 3x3 stride 2 pad 1 output_padding 1 with bias (cuDNN)",
      {randn({2, 5, 7, 6}, 32), randn({5, 4, 3, 3}, 33), randn({4}, 34)},
      [](auto& v) {
        return weighted(conv_transpose2d(v[0], v[1], v[2], {2, 1, 1}), 35);
      },
      1e-3);
}

TEST_CASE("batch norm in training mode runs on CUDA as on the CPU, running statistics included") {
  using BatchNorm =
      Tensor (*)(const Tensor&, const Tensor&, const Tensor&, Tensor, Tensor, bool, double, double);
  const std::pair<std::string, BatchNorm> ops[] = {{"batch_norm", batch_norm},
                                                   {"batch_norm_relu", batch_norm_relu}};
  const Tensor gamma = randn({5}, 40), beta = randn({5}, 41);
  for (const Shape& shape : {Shape{6, 5, 11, 9}, Shape{301, 5}})
    for (const auto& op : ops) {
      const std::string name = op.first + " of [" + std::to_string(shape[0]) + ", 5, ...]";
      std::vector<Tensor> stats;  // running mean and variance: the CPU's, then the GPU's
      check_op_on_cuda(name, {randn(shape, 42), gamma, beta}, [&](auto& v) {
        const Tensor rm = Tensor::zeros({5}, DType::f32, v[0].device()),
                     rv = Tensor::ones({5}, DType::f32, v[0].device());
        stats.insert(stats.end(), {rm, rv});
        return weighted(op.second(v[0], v[1], v[2], rm, rv, true, 0.1, 1e-5), 43);
      });
      REQUIRE(stats.size() == 4);
      test::check_close(stats[2].to_vector<float>(), stats[0].to_vector<double>(), 1e-4, 1e-4,
                        name + " mean");
      test::check_close(stats[3].to_vector<float>(), stats[1].to_vector<double>(), 1e-4, 1e-4, name + " var");
    }
  // The fused op composes cuDNN's convolution with batch_norm_relu on CUDA: 1e-3, as for the convolutions.
  check_op_on_cuda(
      "conv2d_batch_norm_relu (cuDNN)",
      {randn({2, 5, 13, 11}, 44), randn({7, 5, 3, 3}, 45), randn({7}, 46), randn({7}, 47)},
      [](auto& v) {
        return weighted(conv2d_batch_norm_relu(v[0], v[1], {1, 1, 1}, v[2], v[3], Tensor(), Tensor(), true),
                        48);
      },
      1e-3);
}

TEST_CASE("pooling and upsampling run on CUDA as on the CPU, through autograd") {
  const Tensor x = randn({2, 5, 15, 13}, 50);
  check_op_on_cuda("max_pool2d 3x3 stride 2 pad 1", {x},
                   [](auto& v) { return weighted(max_pool2d(v[0], 3, 2, 1), 51); });
  check_op_on_cuda("max_pool2d 2x2 (last row and column dropped)", {x},
                   [](auto& v) { return weighted(max_pool2d(v[0], 2), 52); });
  check_op_on_cuda("avg_pool2d 3x3 stride 2 pad 1", {x},
                   [](auto& v) { return weighted(avg_pool2d(v[0], 3, 2, 1), 53); });
  check_op_on_cuda("adaptive_avg_pool2d to 4x3 (overlapping bins)", {x},
                   [](auto& v) { return weighted(adaptive_avg_pool2d(v[0], 4, 3), 54); });
  check_op_on_cuda("upsample_nearest2d by 3", {randn({2, 3, 7, 5}, 55)},
                   [](auto& v) { return weighted(upsample_nearest2d(v[0], 3), 56); });
}

TEST_CASE("cat, stack, index_select, gather and binary cross-entropy run on CUDA as on the CPU") {
  check_op_on_cuda("cat on dim 1", {randn({7, 9, 5}, 57), randn({7, 4, 5}, 58)}, [](auto& v) {
    return weighted(cat({v[0], v[1]}, 1), 59);
  });
  check_op_on_cuda("stack on dim 2", {randn({7, 9, 5}, 57), randn({7, 9, 5}, 58)}, [](auto& v) {
    return weighted(stack({v[0], v[1]}, 2), 59);
  });
  // 40 picks among 50 positions: 0..22 each picked once or twice (their gradients add up), 23..49 never.
  const Tensor picks = indices({40}, 23);
  check_op_on_cuda("index_select on dim 1", {randn({6, 50, 7}, 60)},
                   [&](auto& v) { return weighted(index_select(v[0], 1, picks.to(v[0].device())), 61); });
  for (int64_t dim : {0, 1}) {
    // 30 picks along a dim of 19 or 23: repeats.
    const Tensor index = dim == 0 ? indices({30, 23}, 19) : indices({19, 30}, 23);
    check_op_on_cuda("gather on dim " + std::to_string(dim), {randn({19, 23}, 62)},
                     [&](auto& v) { return weighted(gather(v[0], dim, index.to(v[0].device())), 63); });
  }
  // The mean over 37·29 elements, times their count: gradients O(1) rather than O(1/n), where the absolute
  // tolerance would hide errors, and an upstream gradient other than 1 that the backward kernel must read.
  check_op_on_cuda(
      "binary_cross_entropy_with_logits", {randn({37, 29}, 64), randn({37, 29}, 65)},
      [](auto& v) { return mul(binary_cross_entropy_with_logits(v[0], sigmoid(v[1])), 37.0 * 29.0); });
}

TEST_CASE("an Adam step on CUDA updates the parameters as on the CPU") {
  const Tensor w0 = randn({8, 4}, 9), x = randn({16, 4}, 10);
  std::vector<Tensor> results;
  for (Device d : {Device::cpu(), Device::cuda()}) {
    Tensor w = w0.to(d).detach().set_requires_grad();
    nn::Adam opt({w}, 0.01);
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      mean(mul(linear(x.to(d), w), linear(x.to(d), w))).backward();
      opt.step();
    }
    results.push_back(w);
  }
  test::check_close(results[1].to_vector<float>(), results[0].to_vector<double>(), 1e-5, 1e-4, "Adam");
}

TEST_CASE("an optimizer built before its model moved to CUDA steps with its state moved along") {
  const Tensor w0 = randn({8, 4}, 11), x = randn({16, 4}, 12);
  const auto train = [&](Device before, const std::function<std::unique_ptr<nn::Optimizer>(Tensor)>& make) {
    Tensor w = w0.to(before).detach().set_requires_grad();
    std::unique_ptr<nn::Optimizer> opt = make(w);
    w.to_(Device::cuda());  // as Module::to moves a parameter
    for (int step = 0; step < 3; ++step) {
      opt->zero_grad();
      mean(mul(linear(x.to(Device::cuda()), w), linear(x.to(Device::cuda()), w))).backward();
      opt->step();
    }
    return w.to_vector<double>();
  };
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<nn::Optimizer>(Tensor)>>> makers = {
      {"SGD", [](Tensor w) { return std::make_unique<nn::SGD>(std::vector<Tensor>{w}, 0.1, 0.9); }},
      {"Adam", [](Tensor w) { return std::make_unique<nn::Adam>(std::vector<Tensor>{w}, 0.01); }},
      {"LARS", [](Tensor w) { return std::make_unique<nn::LARS>(std::vector<Tensor>{w}, 0.1, 0.9); }}};
  for (const auto& [name, make] : makers) {
    CAPTURE(name);
    test::check_close(train(Device::cpu(), make), train(Device::cuda(), make), 1e-5, 1e-4, name);
  }
}

// The op layer on CUDA tensors: forward values and autograd gradients equal the CPU's for the same inputs.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

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

}  // namespace

TEST_CASE("elementwise ops with broadcasting, reductions and softmax run on CUDA as on the CPU") {
  const Tensor a = randn({7, 5}, 1), b = randn({5}, 2);
  check_op_on_cuda("add/mul broadcast", {a, b}, [](auto& v) { return mul(add(v[0], v[1]), v[1]); });
  check_op_on_cuda("relu/exp/div", {a, b}, [](auto& v) { return div(relu(v[0]), add(exp(v[1]), 1.0)); });
  check_op_on_cuda("sum over dims", {randn({4, 6, 3}, 3)}, [](auto& v) { return sum(v[0], {0, 2}); });
  check_op_on_cuda("mean and max", {a}, [](auto& v) { return add(max(v[0], 1), mean(v[0], {1})); });
  check_op_on_cuda("softmax", {a}, [](auto& v) { return mul(softmax(v[0], 1), v[0]); });
  check_op_on_cuda("log_softmax on dim 0", {a}, [](auto& v) { return log_softmax(v[0], 0); });
  check_op_on_cuda("l2_normalize", {a}, [](auto& v) { return l2_normalize(v[0], 1); });
  check_op_on_cuda("transpose + contiguous", {a}, [](auto& v) { return mul(v[0].t().contiguous(), 2.0); });
}

TEST_CASE("losses and NT-Xent run on CUDA as on the CPU, through autograd") {
  const Tensor targets = Tensor::from_vector<int64_t>({0, 3, 1, 4, 2, 2, 0}, {7});
  check_op_on_cuda("cross_entropy", {randn({7, 5}, 4)},
                   [&](auto& v) { return cross_entropy(v[0], targets.to(v[0].device())); });
  check_op_on_cuda("ntxent", {randn({16, 8}, 5)}, [](auto& v) { return ntxent(v[0], 0.5); });
  check_op_on_cuda("linear", {randn({6, 4}, 6), randn({3, 4}, 7), randn({3}, 8)},
                   [](auto& v) { return linear(v[0], v[1], v[2]); });
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

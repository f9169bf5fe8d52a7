// Every differentiable op of the engine. Each is a plain function: it checks its arguments (throwing an
// ssl::Error that names the op and the shapes), runs the kernel for the inputs' device, and records its
// backward formula (core/autograd.h). Implementations live in core/ops/<family>.cpp, forward and backward
// side by side.
#pragma once

#include <optional>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"

namespace ssl {

// ---- elementwise (core/ops/elementwise.cpp); binary ops broadcast NumPy-style ------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sqrt(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }

// ---- reductions (core/ops/reduce.cpp) ----------------------------------------------------------------
Tensor sum(const Tensor& x);  // all elements → scalar
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);     // values; gradient to the argmax
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, not differentiable
// The position (row-major) of the first NaN or infinity in x, or -1 when every element is finite (always,
// for int64). Reads x on the host.
int64_t first_non_finite(const Tensor& x);

// ---- linear algebra (core/ops/matmul.cpp) -------------------------------------------------------------
// a [..., M, K] @ b [K, N] or a [B, M, K] @ b [B, K, N].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, in] @ w[out, in]ᵀ + bias[out]; one fused GEMM (nn::Linear).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

// ---- joining and indexing (core/ops/index.cpp) -------------------------------------------------------
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// An index outside its dimension is an ssl::Error on the CPU. On a GPU it is not checked (that would copy
// the indices back to the host at every call): its value reads as 0 and its gradient is dropped.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: int64 [K]
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // index: int64, shape of output

// ---- softmax family and losses (core/ops/softmax.cpp, core/ops/ntxent.cpp) -----------------------------
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
// Mean over the batch of −log softmax(logits)[target]; logits [N, C], targets int64 [N] in [0, C). A target
// outside [0, C) is an ssl::Error on the CPU; on a GPU it makes the loss NaN (not checked, as for indices).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets);
Tensor l2_normalize(const Tensor& x, int64_t dim = -1, double eps = 1e-12);
// SimCLR's NT-Xent on projections z [2N, d] (rows i and i+N are the two views of one image), fused:
// normalisation, cosine similarities / temperature, log-softmax over the 2N−1 others (cross_view_only: over
// the N rows of the other view, the positive among them), mean over anchors.
Tensor ntxent(const Tensor& z, double temperature, bool cross_view_only = false);

// ---- convolution, pooling, normalisation (core/ops/conv.cpp, pool.cpp, norm.cpp) ------------------------
struct Conv2dArgs {
  int64_t stride = 1, padding = 0, groups = 1;
};
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), Conv2dArgs args = {});
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0,
                  int64_t padding = 0);  // stride 0 = kernel
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);
// Batch normalisation over N (and H, W) per channel of x [N, C] or [N, C, H, W]. In training mode the batch
// statistics are used and the running ones updated in place (momentum as in PyTorch); in eval mode the
// running statistics are used. gamma/beta may be undefined (no affine).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// relu(batch_norm(...)) in one op: in training, one kernel each way, and backward keeps x only (the ReLU's
// mask is recomputed from it), which saves a pass over memory in each direction and one activation.
Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                       Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// batch_norm_relu(conv2d(x, w, {}, args), gamma, beta, ...) in one call (no bias: batch norm would cancel
// it). In training on the CPU, for output planes of at least 256 pixels (1024 after a depthwise
// convolution; smaller ones gain nothing), the convolution kernel records each output plane's mean and spread
// while the plane is still in cache, and batch norm builds its statistics from those: one pass less over the
// convolution's output. The graph is the same two nodes, the values agree to rounding.
Tensor conv2d_batch_norm_relu(const Tensor& x, const Tensor& w, Conv2dArgs args, const Tensor& gamma,
                              const Tensor& beta, Tensor running_mean, Tensor running_var, bool training,
                              double momentum = 0.1, double eps = 1e-5);
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace ssl

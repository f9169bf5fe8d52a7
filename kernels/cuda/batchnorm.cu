// CUDA batch normalisation (contracts in kernels/cuda/batchnorm.h; CPU twin kernels/cpu/batchnorm.cpp; the
// per-channel formulas shared with it in kernels/common/batch_norm_math.h).
//
// One version, in three steps per call, each a kernel on the device's stream:
//   1. channel_sums_kernel: block (channel, chunk) sums two terms over a fixed chunk of the channel's n*hw
//      values (forward: x - k0 and its square; backward: g and g * (x - mean)), each thread in double over a
//      fixed strided subset, then a fixed-order block reduction -> partial[channel][chunk][2].
//   2. a per-channel kernel (one thread per channel) adds the chunks in order and applies the formula:
//      statistics and the affine map (forward) or the coefficients of gx (backward).
//   3. an element-wise kernel writes y (or gx) from x (and gy) and the channel's coefficients.
// Chunks are a function of the shape only, so the bits never depend on the device: deterministic. Splitting
// each channel into chunks keeps the GPU busy when there are few channels with many values (MobileNet's first
// layers: 32 channels of 128 x 32 x 32 values), which one block per channel would not.
//
// Bytes (float32, batch 128, 32 ch at 32x32: x is 16.8 MB): forward train reads x twice and writes y, 50 MB
// (17 us at 3 TB/s); the compulsory traffic is x + y, 34 MB (11 us), and on an H100 the second read of x
// mostly hits its 50 MB L2. Backward reads x and gy twice and writes gx: 84 MB, compulsory 50 MB (17 us).
// About 5 (forward) and 8 (backward) flops per element: far below the 60 TFLOP/s floor, memory-bound.
// Left for later: the channel-strided access when hw == 1 (BatchNorm1d), which reads one value per row.
#include "kernels/cuda/batchnorm.h"

#include <algorithm>
#include <limits>

#include "kernels/common/batch_norm_math.h"
#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/reduce_block.cuh"
#include "kernels/cuda/scratch.cuh"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// What channel_sums_kernel sums.
enum Terms {
  kMoments,   // x - k0, (x - k0)^2 with k0 the channel's first value
  kGrad,      // gy, gy * (x - mean)
  kGradRelu,  // the same with gy masked by the ReLU (recomputed from x, mean, scale, shift)
  kGradEval,  // gy, gy * (x - running_mean) (the second only when x is given)
};

// Layout helpers: element q of channel ch (q over the channel's n*hw values) sits at (i*c + ch)*hw + r,
// i = q / hw, r = q % hw.
__device__ __forceinline__ int64_t element(int64_t q, int ch, int c, int64_t hw) {
  return (q / hw * c + ch) * hw + q % hw;
}

template <class T, int Mode>
__global__ void channel_sums_kernel(int64_t n, int c, int64_t hw, int chunks, const T* x, const T* gy,
                                    const T* mean, const T* scale, const T* shift, double* partial) {
  const int ch = int(blockIdx.x / chunks), chunk = int(blockIdx.x % chunks);
  const int64_t count = n * hw, begin = count * chunk / chunks, end = count * (chunk + 1) / chunks;
  const T k0 = Mode == kMoments ? x[int64_t(ch) * hw] : T(0);
  const T mu = (Mode == kGrad || Mode == kGradRelu || (Mode == kGradEval && x)) ? mean[ch] : T(0);
  const T sc = Mode == kGradRelu ? scale[ch] : T(0), sh = Mode == kGradRelu ? shift[ch] : T(0);
  double a = 0, b = 0;
  for (int64_t q = begin + threadIdx.x; q < end; q += blockDim.x) {
    const int64_t k = element(q, ch, c, hw);
    if constexpr (Mode == kMoments) {
      const T d = x[k] - k0;
      a += double(d);
      b += double(d * d);
    } else if constexpr (Mode == kGradEval) {
      a += double(gy[k]);
      if (x) b += double(gy[k]) * (double(x[k]) - double(mu));
    } else {
      T g = gy[k];
      const T xk = x[k];
      if (Mode == kGradRelu && !(batch_norm::affine(xk, mu, sc, sh) > T(0))) g = T(0);
      a += double(g);
      b += double(g * (xk - mu));
    }
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    partial[2 * int64_t(blockIdx.x)] = a;
    partial[2 * int64_t(blockIdx.x) + 1] = b;
  }
}

// The channel's two sums: its chunks' partials in chunk order.
__device__ __forceinline__ void channel_totals(const double* partial, int ch, int chunks, double& s1,
                                               double& s2) {
  s1 = 0;
  s2 = 0;
  for (int q = 0; q < chunks; ++q) {
    s1 += partial[2 * (int64_t(ch) * chunks + q)];
    s2 += partial[2 * (int64_t(ch) * chunks + q) + 1];
  }
}

// coef [3, c]: the mean, scale and shift of y = affine(x, mean, scale, shift).
template <class T>
__global__ void forward_stats_kernel(int c, int64_t hw, double m, int chunks, const double* partial,
                                     const T* x, const T* gamma, const T* beta, T eps, T* save_mean,
                                     T* save_invstd, T* batch_var, T* save_scale, T* save_shift, T* coef) {
  const int ch = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (ch >= c) return;
  double s1, s2;
  channel_totals(partial, ch, chunks, s1, s2);
  const batch_norm::TrainStats<T> st =
      batch_norm::train_stats<T>(s1, s2, m, x[ch * hw], gamma, beta, ch, eps);
  save_mean[ch] = st.mean;
  save_invstd[ch] = st.invstd;
  if (batch_var) batch_var[ch] = st.var;
  if (save_scale) save_scale[ch] = st.scale;
  if (save_shift) save_shift[ch] = st.shift;
  coef[ch] = st.mean;
  coef[c + ch] = st.scale;
  coef[2 * c + ch] = st.shift;
}

// coef [3, c] for eval forward: running mean, gamma / sqrt(running_var + eps), beta.
template <class T>
__global__ void eval_coef_kernel(int c, const T* gamma, const T* beta, const T* running_mean,
                                 const T* running_var, T eps, T* coef) {
  const int ch = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (ch >= c) return;
  coef[ch] = running_mean[ch];
  coef[c + ch] = batch_norm::eval_scale(gamma, ch, running_var[ch], eps);
  coef[2 * c + ch] = beta ? beta[ch] : T(0);
}

// y = affine(x) (then the ReLU), coefficients by channel from coef [3, c].
template <class T, bool Relu>
__global__ void affine_kernel(int64_t total, int c, int64_t hw, const T* x, const T* coef, T* y) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(k / hw % c);
    const T v = batch_norm::affine(x[k], coef[ch], coef[c + ch], coef[2 * c + ch]);
    y[k] = Relu ? (v < T(0) ? T(0) : v) : v;  // a NaN stays NaN, as on the CPU
  }
}

// coef [3, c] = k_gy, k_x, k_0 of gx; ggamma and gbeta when wanted.
template <class T>
__global__ void backward_coef_kernel(int c, double m, int chunks, const double* partial, const T* gamma,
                                     const T* save_invstd, T* ggamma, T* gbeta, T* coef) {
  const int ch = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (ch >= c) return;
  double s1, s2;
  channel_totals(partial, ch, chunks, s1, s2);
  const batch_norm::TrainGrad<T> gr = batch_norm::train_grad<T>(s1, s2, m, save_invstd[ch], gamma, ch);
  if (ggamma) ggamma[ch] = gr.ggamma;
  if (gbeta) gbeta[ch] = gr.gbeta;
  coef[ch] = gr.k_gy;
  coef[c + ch] = gr.k_x;
  coef[2 * c + ch] = gr.k_0;
}

// gx = k_gy*g - k_x*(x - mean) - k_0, g = gy masked by the ReLU when fused.
template <class T, bool Relu>
__global__ void backward_apply_kernel(int64_t total, int c, int64_t hw, const T* x, const T* gy,
                                      const T* mean, const T* scale, const T* shift, const T* coef, T* gx) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(k / hw % c);
    const T mu = mean[ch], xk = x[k];
    T g = gy[k];
    if (Relu && !(batch_norm::affine(xk, mu, scale[ch], shift[ch]) > T(0))) g = T(0);
    gx[k] = coef[ch] * g - coef[c + ch] * (xk - mu) - coef[2 * c + ch];
  }
}

template <class T>
__global__ void eval_grad_params_kernel(int c, int chunks, const double* partial, const T* running_var, T eps,
                                        T* ggamma, T* gbeta) {
  const int ch = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (ch >= c) return;
  double s1, s2;
  channel_totals(partial, ch, chunks, s1, s2);
  if (ggamma) ggamma[ch] = T(batch_norm::eval_invstd(running_var[ch], eps) * s2);
  if (gbeta) gbeta[ch] = T(s1);
}

template <class T>
__global__ void eval_grad_input_kernel(int64_t total, int c, int64_t hw, const T* gamma, const T* running_var,
                                       T eps, const T* gy, T* gx) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(k / hw % c);
    gx[k] = gy[k] * batch_norm::eval_scale(gamma, ch, running_var[ch], eps);
  }
}

// ---- host side ------------------------------------------------------------------------------------------

void check_sizes(int64_t n, int64_t c, int64_t hw, const char* fn) {
  SSL_CHECK(n >= 1 && c >= 1 && hw >= 1, fn, ": sizes must be positive, got n=", n, " c=", c, " hw=", hw);
  // The kernels index the [3, c] coefficients with int.
  const int64_t max_channels = std::numeric_limits<int>::max() / 3;
  SSL_CHECK(c <= max_channels, fn, ": too many channels for the CUDA kernels (", c, ", at most ",
            max_channels, ")");
}

// Chunks per channel, from the shape only: about 4096 values per block, at most 256 blocks per channel.
int chunks_of(int64_t n, int64_t hw) { return int(std::clamp<int64_t>(n * hw / 4096, 1, 256)); }

// Queues channel_sums_kernel<Mode> into `partial` (c * chunks * 2 doubles).
template <class T, int Mode>
void channel_sums(int64_t n, int64_t c, int64_t hw, int chunks, const T* x, const T* gy, const T* mean,
                  const T* scale, const T* shift, double* partial) {
  launch(channel_sums_kernel<T, Mode>, unsigned(c * chunks), kThreads, 0, n, int(c), hw, chunks, x, gy, mean,
         scale, shift, partial);
}

template <bool Relu, class T>
void forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta, T eps, T* y,
                   T* save_mean, T* save_invstd, T* batch_var, T* save_scale, T* save_shift) {
  const char* fn = Relu ? "batch_norm_relu_forward_train" : "batch_norm_forward_train";
  check_sizes(n, c, hw, fn);
  SSL_CHECK(n * hw >= 2, fn, ": need more than one value per channel, got n=", n, " hw=", hw);
  SSL_CHECK(eps >= 0, fn, ": eps must be >= 0, got ", eps);
  SSL_CHECK(x && y && save_mean && save_invstd, fn, ": x, y, save_mean and save_invstd must not be null");
  const int chunks = chunks_of(n, hw);
  DeviceScratch<double> partial(c * chunks * 2);
  DeviceScratch<T> coef(3 * c);
  channel_sums<T, kMoments>(n, c, hw, chunks, x, nullptr, nullptr, nullptr, nullptr, partial.get());
  launch(forward_stats_kernel<T>, blocks_covering(c, kThreads), kThreads, 0, int(c), hw, double(n * hw),
         chunks, static_cast<const double*>(partial.get()), x, gamma, beta, eps, save_mean, save_invstd,
         batch_var, save_scale, save_shift, coef.get());
  const int64_t total = n * c * hw;
  launch(affine_kernel<T, Relu>, blocks_for(total, kThreads), kThreads, 0, total, int(c), hw, x,
         static_cast<const T*>(coef.get()), y);
}

template <bool Relu, class T>
void backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* save_mean,
                    const T* save_invstd, const T* save_scale, const T* save_shift, const T* gy, T* gx,
                    T* ggamma, T* gbeta) {
  const char* fn = Relu ? "batch_norm_relu_backward_train" : "batch_norm_backward_train";
  check_sizes(n, c, hw, fn);
  SSL_CHECK(x && save_mean && save_invstd && gy, fn, ": x, save_mean, save_invstd and gy must not be null");
  SSL_CHECK(!Relu || (save_scale && save_shift), fn, ": save_scale and save_shift must not be null");
  if (!gx && !ggamma && !gbeta) return;
  const int chunks = chunks_of(n, hw);
  DeviceScratch<double> partial(c * chunks * 2);
  DeviceScratch<T> coef(3 * c);
  channel_sums<T, Relu ? kGradRelu : kGrad>(n, c, hw, chunks, x, gy, save_mean, save_scale, save_shift,
                                            partial.get());
  launch(backward_coef_kernel<T>, blocks_covering(c, kThreads), kThreads, 0, int(c), double(n * hw), chunks,
         static_cast<const double*>(partial.get()), gamma, save_invstd, ggamma, gbeta, coef.get());
  if (!gx) return;
  const int64_t total = n * c * hw;
  launch(backward_apply_kernel<T, Relu>, blocks_for(total, kThreads), kThreads, 0, total, int(c), hw, x, gy,
         save_mean, save_scale, save_shift, static_cast<const T*>(coef.get()), gx);
}

}  // namespace

template <class T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* save_mean, T* save_invstd, T* batch_var) {
  forward_train<false>(n, c, hw, x, gamma, beta, eps, y, save_mean, save_invstd, batch_var, (T*)nullptr,
                       (T*)nullptr);
}

template <class T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* gy, T* gx, T* ggamma,
                               T* gbeta) {
  backward_train<false>(n, c, hw, x, gamma, save_mean, save_invstd, (const T*)nullptr, (const T*)nullptr, gy,
                        gx, ggamma, gbeta);
}

template <class T>
void batch_norm_relu_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                   const T* beta, T eps, T* y, T* save_mean, T* save_invstd, T* batch_var,
                                   T* save_scale, T* save_shift) {
  SSL_CHECK(save_scale && save_shift,
            "batch_norm_relu_forward_train: save_scale and save_shift must not be null");
  forward_train<true>(n, c, hw, x, gamma, beta, eps, y, save_mean, save_invstd, batch_var, save_scale,
                      save_shift);
}

template <class T>
void batch_norm_relu_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, const T* save_scale,
                                    const T* save_shift, const T* gy, T* gx, T* ggamma, T* gbeta) {
  backward_train<true>(n, c, hw, x, gamma, save_mean, save_invstd, save_scale, save_shift, gy, gx, ggamma,
                       gbeta);
}

template <class T>
void batch_norm_forward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T eps, T* y) {
  check_sizes(n, c, hw, "batch_norm_forward_eval");
  SSL_CHECK(x && running_mean && running_var && y,
            "batch_norm_forward_eval: x, running_mean, running_var and y must not be null");
  DeviceScratch<T> coef(3 * c);
  launch(eval_coef_kernel<T>, blocks_covering(c, kThreads), kThreads, 0, int(c), gamma, beta, running_mean,
         running_var, eps, coef.get());
  const int64_t total = n * c * hw;
  launch(affine_kernel<T, false>, blocks_for(total, kThreads), kThreads, 0, total, int(c), hw, x,
         static_cast<const T*>(coef.get()), y);
}

template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* gy, T* gx,
                              T* ggamma, T* gbeta) {
  check_sizes(n, c, hw, "batch_norm_backward_eval");
  SSL_CHECK(running_var && gy, "batch_norm_backward_eval: running_var and gy must not be null");
  SSL_CHECK(!ggamma || (x && running_mean), "batch_norm_backward_eval: ggamma needs x and running_mean");
  if (ggamma || gbeta) {
    const int chunks = chunks_of(n, hw);
    DeviceScratch<double> partial(c * chunks * 2);
    channel_sums<T, kGradEval>(n, c, hw, chunks, ggamma ? x : nullptr, gy, ggamma ? running_mean : nullptr,
                               nullptr, nullptr, partial.get());
    launch(eval_grad_params_kernel<T>, blocks_covering(c, kThreads), kThreads, 0, int(c), chunks,
           static_cast<const double*>(partial.get()), running_var, eps, ggamma, gbeta);
  }
  if (gx) {
    const int64_t total = n * c * hw;
    launch(eval_grad_input_kernel<T>, blocks_for(total, kThreads), kThreads, 0, total, int(c), hw, gamma,
           running_var, eps, gy, gx);
  }
}

template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* gamma, const T* running_var, T eps,
                              const T* gy, T* gx) {
  SSL_CHECK(gx, "batch_norm_backward_eval: gx must not be null");
  batch_norm_backward_eval<T>(n, c, hw, nullptr, gamma, nullptr, running_var, eps, gy, gx, nullptr, nullptr);
}

#define SSL_INSTANTIATE_BATCH_NORM(T)                                                                        \
  template void batch_norm_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T, T*,  \
                                            T*, T*, T*);                                                     \
  template void batch_norm_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,        \
                                             const T*, const T*, T*, T*, T*);                                \
  template void batch_norm_forward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,          \
                                           const T*, const T*, T, T*);                                       \
  template void batch_norm_backward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*, T, const T*, T*); \
  template void batch_norm_backward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,         \
                                            const T*, T, const T*, T*, T*, T*);                              \
  template void batch_norm_relu_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T, \
                                                 T*, T*, T*, T*, T*, T*);                                    \
  template void batch_norm_relu_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,   \
                                                  const T*, const T*, const T*, const T*, T*, T*, T*);
SSL_INSTANTIATE_BATCH_NORM(float)
SSL_INSTANTIATE_BATCH_NORM(double)
#undef SSL_INSTANTIATE_BATCH_NORM

}  // namespace ssl::kernels::SSL_CUDA_NS

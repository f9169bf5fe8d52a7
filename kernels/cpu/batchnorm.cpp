// CPU batch normalisation. Channels are independent, so OpenMP splits the channels; each channel's sums are
// accumulated by one thread in a fixed order (runs of H*W values in the data's type, vectorised; the runs in
// double), which makes results independent of the thread count.
//
// Layout [n, c, hw]: channel ch of image i is the contiguous run x[(i*c + ch)*hw, +hw). A task takes a
// block of adjacent channels. With hw = 1 (BatchNorm1d) a channel has one value per row, so the loops run
// across the block's channels, which are contiguous, instead of along a channel.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "kernels/common/batch_norm_math.h"

namespace ssl::kernels::cpu {
namespace {

constexpr int64_t kMaxBlock = 64;

// Channels per task: a whole 64-channel run per row for hw = 1; otherwise enough channels that each image
// contributes a contiguous span of at least ~256 values (1 KB of floats). With small planes (4x4, 2x2) one
// channel per task would read a few bytes per image at a large stride, which the hardware prefetchers do
// not follow; a block's spans of all images (n KB) stay in L2 while its channels are walked one by one.
int64_t block_size(int64_t hw) { return hw == 1 ? kMaxBlock : std::clamp<int64_t>(256 / hw, 1, kMaxBlock); }

void check_sizes(int64_t n, int64_t c, int64_t hw, const char* fn) {
  SSL_CHECK(n >= 1 && c >= 1 && hw >= 1, fn, ": sizes must be positive, got n=", n, " c=", c, " hw=", hw);
}

// Every kernel below is made of these loops over the channels [c0, c0 + nb) of one block. A kernel passes a
// factory: terms(b) returns, for the channel at position b of the block, a callable of the flat index k of
// one of the channel's elements. The callables capture scalars and pointers by value, so that inside the
// loops everything but k is a loop invariant the compiler keeps in registers, and the loops vectorise with
// plain contiguous loads. `omp simd` lets it reorder the sums (the same way on every call).

// s1[b] += sum of t.first(k) and s2[b] += sum of t.second(k) over the n*hw elements k of channel c0 + b,
// with t = terms(b). A contiguous run of hw values is summed in the terms' type (float for float data:
// twice the vector width of double), the runs in double.
template <class Terms>
void channel_sums(int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t nb, double* s1, double* s2,
                  Terms terms) {
  if (hw == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = i * c + c0;
      for (int64_t b = 0; b < nb; ++b) {
        const auto t = terms(b);
        s1[b] += double(t.first(row + b));
        s2[b] += double(t.second(row + b));
      }
    }
    return;
  }
  for (int64_t b = 0; b < nb; ++b) {
    const auto t = terms(b);
    const auto f1 = t.first;
    const auto f2 = t.second;
    using Run = decltype(f1(0));
    double a1 = 0, a2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t run = (i * c + c0 + b) * hw;
      Run r1 = 0, r2 = 0;
#pragma omp simd reduction(+ : r1, r2)
      for (int64_t q = run; q < run + hw; ++q) {
        r1 += f1(q);
        r2 += f2(q);
      }
      a1 += double(r1);
      a2 += double(r2);
    }
    s1[b] += a1;
    s2[b] += a2;
  }
}

// op(b)(k) for every element k of the block (element-wise outputs).
template <class Op>
void channel_map(int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t nb, Op op) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const auto f = op(b);
      const int64_t run = (i * c + c0 + b) * hw;
#pragma omp simd
      for (int64_t q = run; q < run + hw; ++q) f(q);
    }
  }
}

// A pair of terms for channel_sums.
template <class F1, class F2>
std::pair<F1, F2> terms_of(F1 f1, F2 f2) {
  return {f1, f2};
}

}  // namespace

// ---- training mode ----------------------------------------------------------------------------------------

namespace {

template <bool Relu, class T>
void forward_train(int64_t n, int64_t c, int64_t hw, const double* plane_mean, const double* plane_m2,
                   const T* x, const T* gamma, const T* beta, T eps, T* y, T* save_mean, T* save_invstd,
                   T* batch_var, T* save_scale, T* save_shift) {
  const char* fn = Relu ? "batch_norm_relu_forward_train" : "batch_norm_forward_train";
  check_sizes(n, c, hw, fn);
  SSL_CHECK(n * hw >= 2, fn, ": need more than one value per channel, got n=", n, " hw=", hw);
  SSL_CHECK(eps >= 0, fn, ": eps must be >= 0, got ", eps);
  SSL_CHECK(x && y && save_mean && save_invstd, fn, ": x, y, save_mean and save_invstd must not be null");
  SSL_CHECK(!plane_mean == !plane_m2, fn, ": plane_mean and plane_m2 go together");
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;
  const double m = static_cast<double>(n * hw);

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    double mean_d[kMaxBlock], var_d[kMaxBlock];
    if (plane_mean) {
      // Merge the planes' moments image by image: adding a plane of hw values with mean pm and M2 pq to a
      // running (count, mean, M2) moves the mean by delta*hw/total and adds the between-group term to M2.
      for (int64_t b = 0; b < nb; ++b) {
        double count = 0, mu = 0, m2 = 0;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t p = i * c + c0 + b;
          const double total = count + double(hw), delta = plane_mean[p] - mu;
          mu += delta * double(hw) / total;
          m2 += plane_m2[p] + delta * delta * count * double(hw) / total;
          count = total;
        }
        mean_d[b] = mu;
        var_d[b] = std::max(0.0, m2 / m);
      }
    } else {
      // One pass over x for both moments, of x - K with K the channel's first value: shifting by a value of
      // the data keeps E[d²] - E[d]² accurate even when |mean| >> std (without the shift that difference
      // would lose every digit). Each plane's sums are in T, so a K many std from the mean costs precision
      // as plane_moments says.
      T shift_k[kMaxBlock];
      double s1[kMaxBlock] = {}, s2[kMaxBlock] = {};
      for (int64_t b = 0; b < nb; ++b) shift_k[b] = x[(c0 + b) * hw];
      channel_sums(n, c, hw, c0, nb, s1, s2, [&](int64_t b) {
        const T k0 = shift_k[b];
        return terms_of([x, k0](int64_t k) { return x[k] - k0; },
                        [x, k0](int64_t k) {
                          const T d = x[k] - k0;
                          return d * d;
                        });
      });
      for (int64_t b = 0; b < nb; ++b) {
        const double d_mean = s1[b] / m;
        mean_d[b] = double(shift_k[b]) + d_mean;
        var_d[b] = std::max(0.0, s2[b] / m - d_mean * d_mean);  // biased: the batch's own spread
      }
    }

    T mean_t[kMaxBlock], scale[kMaxBlock], shift[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t ch = c0 + b;
      const double mean = mean_d[b], var = var_d[b];
      const double invstd = 1.0 / std::sqrt(var + double(eps));
      save_mean[ch] = T(mean);
      save_invstd[ch] = T(invstd);
      if (batch_var) batch_var[ch] = T(var);
      // y = (x - mean_t) * scale + shift. Subtracting first keeps y accurate when |mean| >> std (x - mean_t
      // is then exact); shift absorbs the rounding of the mean to T, which alone could exceed the spread.
      const double sc = invstd * (gamma ? double(gamma[ch]) : 1.0);
      mean_t[b] = T(mean);
      scale[b] = T(sc);
      shift[b] = T((beta ? double(beta[ch]) : 0.0) - (mean - double(mean_t[b])) * sc);
      if (save_scale) save_scale[ch] = scale[b];
      if (save_shift) save_shift[ch] = shift[b];
    }
    channel_map(n, c, hw, c0, nb, [&](int64_t b) {
      return [x, y, mu = mean_t[b], sc = scale[b], sh = shift[b]](int64_t k) {
        const T v = batch_norm::affine(x[k], mu, sc, sh);
        y[k] = Relu ? std::max(v, T(0)) : v;
      };
    });
  }
}

// With Relu, gy is the gradient of the ReLU's output: elements whose pre-activation was not positive pass
// nothing back; the mask is recomputed from x with forward's affine map (save_scale, save_shift).
template <bool Relu, class T>
void backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* save_mean,
                    const T* save_invstd, const T* save_scale, const T* save_shift, const T* gy, T* gx,
                    T* ggamma, T* gbeta) {
  const char* fn = Relu ? "batch_norm_relu_backward_train" : "batch_norm_backward_train";
  check_sizes(n, c, hw, fn);
  SSL_CHECK(x && save_mean && save_invstd && gy, fn, ": x, save_mean, save_invstd and gy must not be null");
  SSL_CHECK(!Relu || (save_scale && save_shift), fn, ": save_scale and save_shift must not be null");
  if (!gx && !ggamma && !gbeta) return;
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;
  const double m = static_cast<double>(n * hw);

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    T mean_t[kMaxBlock], scale[kMaxBlock], shift[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      mean_t[b] = save_mean[c0 + b];
      scale[b] = Relu ? save_scale[c0 + b] : T(0);
      shift[b] = Relu ? save_shift[c0 + b] : T(0);
    }
    // The gradient reaching the normalisation: gy, masked by the ReLU when fused. gy[k] is loaded
    // unconditionally: a load inside the condition would keep the loops from vectorising.
    auto grad_of = [=](T mu, T sc, T sh) {  // [=]: x is read only when Relu
      return [=](int64_t k) {
        const T g = gy[k];
        if constexpr (Relu) return batch_norm::affine(x[k], mu, sc, sh) > T(0) ? g : T(0);
        return g;
      };
    };
    // sum(g) and sum(g * (x - mean)): all the derivative needs besides g and x themselves.
    double sum_gy[kMaxBlock] = {}, sum_gy_xmu[kMaxBlock] = {};
    channel_sums(n, c, hw, c0, nb, sum_gy, sum_gy_xmu, [&](int64_t b) {
      const auto g = grad_of(mean_t[b], scale[b], shift[b]);
      return terms_of(g, [g, x, mu = mean_t[b]](int64_t k) { return g(k) * (x[k] - mu); });
    });

    T k_gy[kMaxBlock], k_x[kMaxBlock], k_0[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t ch = c0 + b;
      const double invstd = save_invstd[ch], g = gamma ? double(gamma[ch]) : 1.0;
      const double dgamma = invstd * sum_gy_xmu[b];  // sum(g * xhat)
      if (ggamma) ggamma[ch] = T(dgamma);
      if (gbeta) gbeta[ch] = T(sum_gy[b]);
      // gx = gamma*invstd * (g - sum_g/m - xhat * dgamma/m), written as k_gy*g - k_x*(x - mean) - k_0.
      k_gy[b] = T(g * invstd);
      k_x[b] = T(g * invstd * invstd * dgamma / m);
      k_0[b] = T(g * invstd * sum_gy[b] / m);
    }
    if (!gx) continue;
    channel_map(n, c, hw, c0, nb, [&](int64_t b) {
      return [g = grad_of(mean_t[b], scale[b], shift[b]), x, gx, mu = mean_t[b], a = k_gy[b], bx = k_x[b],
              z = k_0[b]](int64_t k) { gx[k] = a * g(k) - bx * (x[k] - mu) - z; };
    });
  }
}

}  // namespace

template <class T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* save_mean, T* save_invstd, T* batch_var) {
  forward_train<false>(n, c, hw, nullptr, nullptr, x, gamma, beta, eps, y, save_mean, save_invstd, batch_var,
                       (T*)nullptr, (T*)nullptr);
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
  forward_train<true>(n, c, hw, nullptr, nullptr, x, gamma, beta, eps, y, save_mean, save_invstd, batch_var,
                      save_scale, save_shift);
}

template <class T>
void batch_norm_relu_forward_train_moments(int64_t n, int64_t c, int64_t hw, const double* plane_mean,
                                           const double* plane_m2, const T* x, const T* gamma, const T* beta,
                                           T eps, T* y, T* save_mean, T* save_invstd, T* batch_var,
                                           T* save_scale, T* save_shift) {
  SSL_CHECK(plane_mean && plane_m2 && save_scale && save_shift,
            "batch_norm_relu_forward_train_moments: plane_mean, plane_m2, save_scale and save_shift must not "
            "be null");
  forward_train<true>(n, c, hw, plane_mean, plane_m2, x, gamma, beta, eps, y, save_mean, save_invstd,
                      batch_var, save_scale, save_shift);
}

template <class T>
void batch_norm_relu_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, const T* save_scale,
                                    const T* save_shift, const T* gy, T* gx, T* ggamma, T* gbeta) {
  backward_train<true>(n, c, hw, x, gamma, save_mean, save_invstd, save_scale, save_shift, gy, gx, ggamma,
                       gbeta);
}

// ---- evaluation mode --------------------------------------------------------------------------------------

template <class T>
void batch_norm_forward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T eps, T* y) {
  check_sizes(n, c, hw, "batch_norm_forward_eval");
  SSL_CHECK(x && running_mean && running_var && y,
            "batch_norm_forward_eval: x, running_mean, running_var and y must not be null");
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    T mean_t[kMaxBlock], scale[kMaxBlock], shift[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t ch = c0 + b;
      mean_t[b] = running_mean[ch];
      scale[b] = T((gamma ? double(gamma[ch]) : 1.0) / std::sqrt(double(running_var[ch]) + double(eps)));
      shift[b] = beta ? beta[ch] : T(0);
    }
    channel_map(n, c, hw, c0, nb, [&](int64_t b) {
      return [x, y, mu = mean_t[b], sc = scale[b], sh = shift[b]](int64_t k) {
        y[k] = batch_norm::affine(x[k], mu, sc, sh);
      };
    });
  }
}

template <class T>
void batch_norm_backward_eval(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* gy, T* gx,
                              T* ggamma, T* gbeta) {
  check_sizes(n, c, hw, "batch_norm_backward_eval");
  SSL_CHECK(running_var && gy, "batch_norm_backward_eval: running_var and gy must not be null");
  SSL_CHECK(!ggamma || (x && running_mean), "batch_norm_backward_eval: ggamma needs x and running_mean");
  if (!gx && !ggamma && !gbeta) return;
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    double invstd[kMaxBlock];
    T scale[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      invstd[b] = 1.0 / std::sqrt(double(running_var[c0 + b]) + double(eps));
      scale[b] = T((gamma ? double(gamma[c0 + b]) : 1.0) * invstd[b]);
    }
    if (ggamma || gbeta) {
      // x and running_mean are only read for ggamma.
      double sum_gy[kMaxBlock] = {}, sum_gy_xmu[kMaxBlock] = {};
      channel_sums(n, c, hw, c0, nb, sum_gy, sum_gy_xmu, [&](int64_t b) {
        const double mu = ggamma ? double(running_mean[c0 + b]) : 0.0;
        return terms_of([gy](int64_t k) { return double(gy[k]); },
                        [gy, x, mu, on = ggamma != nullptr](int64_t k) {
                          return on ? double(gy[k]) * (double(x[k]) - mu) : 0.0;
                        });
      });
      for (int64_t b = 0; b < nb; ++b) {
        if (ggamma) ggamma[c0 + b] = T(invstd[b] * sum_gy_xmu[b]);
        if (gbeta) gbeta[c0 + b] = T(sum_gy[b]);
      }
    }
    if (gx) {
      channel_map(n, c, hw, c0, nb,
                  [&](int64_t b) { return [gx, gy, sc = scale[b]](int64_t k) { gx[k] = gy[k] * sc; }; });
    }
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
  template void batch_norm_relu_forward_train_moments<T>(int64_t, int64_t, int64_t, const double*,           \
                                                         const double*, const T*, const T*, const T*, T, T*, \
                                                         T*, T*, T*, T*, T*);                                \
  template void batch_norm_relu_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,   \
                                                  const T*, const T*, const T*, const T*, T*, T*, T*);
SSL_INSTANTIATE_BATCH_NORM(float)
SSL_INSTANTIATE_BATCH_NORM(double)
#undef SSL_INSTANTIATE_BATCH_NORM

}  // namespace ssl::kernels::cpu

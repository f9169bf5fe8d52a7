// CPU batch normalisation. Channels are independent, so OpenMP splits the channels; each channel's sums are
// accumulated in double by one thread in a fixed order, which makes results independent of the thread count.
//
// Layout [n, c, hw]: channel ch of image i is the contiguous run x[(i*c + ch)*hw, +hw). A task takes a
// block of adjacent channels. With hw = 1 (BatchNorm1d) a channel has one value per row, so the loops run
// across the block's channels, which are contiguous, instead of along a channel.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ssl::kernels::cpu {
namespace {

constexpr int64_t kMaxBlock = 64;

// Channels per task: a whole 64-channel run per row for hw = 1; otherwise enough channels that a row of the
// block holds at least ~16 values.
int64_t block_size(int64_t hw) { return hw == 1 ? kMaxBlock : std::clamp<int64_t>(16 / hw, 1, kMaxBlock); }

void check_sizes(int64_t n, int64_t c, int64_t hw, const char* fn) {
  SSL_CHECK(n >= 1 && c >= 1 && hw >= 1, fn, ": sizes must be positive, got n=", n, " c=", c, " hw=", hw);
}

// Every kernel below is made of these loops over the channels [c0, c0 + nb) of one block. The callback
// f(b, k) gets the channel's position b in the block and the flat index k of one of its elements.
// `omp simd` lets the compiler vectorise the sums (it reorders additions, the same way on every call).

// s1[b] += sum of f1(b, k) and s2[b] += sum of f2(b, k) over the n*hw elements of channel c0 + b.
template <class F1, class F2>
void channel_sums(int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t nb, double* s1, F1 f1, double* s2,
                  F2 f2) {
  if (hw == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = i * c + c0;
#pragma omp simd
      for (int64_t b = 0; b < nb; ++b) {
        s1[b] += f1(b, row + b);
        s2[b] += f2(b, row + b);
      }
    }
    return;
  }
  for (int64_t b = 0; b < nb; ++b) {
    double a1 = 0, a2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t run = (i * c + c0 + b) * hw;
#pragma omp simd reduction(+ : a1, a2)
      for (int64_t q = 0; q < hw; ++q) {
        a1 += f1(b, run + q);
        a2 += f2(b, run + q);
      }
    }
    s1[b] += a1;
    s2[b] += a2;
  }
}

// s[b] += sum of f(b, k) over channel c0 + b.
template <class F>
void channel_sum(int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t nb, double* s, F f) {
  double unused[kMaxBlock] = {};
  channel_sums(n, c, hw, c0, nb, s, f, unused, [](int64_t, int64_t) { return 0.0; });
}

// f(b, k) for every element of the block (element-wise outputs).
template <class F>
void channel_map(int64_t n, int64_t c, int64_t hw, int64_t c0, int64_t nb, F f) {
  for (int64_t i = 0; i < n; ++i) {
    if (hw == 1) {
#pragma omp simd
      for (int64_t b = 0; b < nb; ++b) f(b, i * c + c0 + b);
    } else {
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t run = (i * c + c0 + b) * hw;
#pragma omp simd
        for (int64_t q = 0; q < hw; ++q) f(b, run + q);
      }
    }
  }
}

}  // namespace

// ---- training mode ----------------------------------------------------------------------------------------

template <class T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* save_mean, T* save_invstd, T* batch_var) {
  check_sizes(n, c, hw, "batch_norm_forward_train");
  SSL_CHECK(n * hw >= 2, "batch_norm_forward_train: need more than one value per channel, got n=", n,
            " hw=", hw);
  SSL_CHECK(eps >= 0, "batch_norm_forward_train: eps must be >= 0, got ", eps);
  SSL_CHECK(x && y && save_mean && save_invstd,
            "batch_norm_forward_train: x, y, save_mean and save_invstd must not be null");
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;
  const double m = static_cast<double>(n * hw);

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    // Two passes: the mean first, then squared deviations from it. The one-pass E[x^2] - E[x]^2 loses
    // every digit when |mean| >> std.
    double mean[kMaxBlock] = {}, var[kMaxBlock] = {};
    channel_sum(n, c, hw, c0, nb, mean, [&](int64_t, int64_t k) { return double(x[k]); });
    for (int64_t b = 0; b < nb; ++b) mean[b] /= m;
    channel_sum(n, c, hw, c0, nb, var, [&](int64_t b, int64_t k) {
      const double d = double(x[k]) - mean[b];
      return d * d;
    });

    T mean_t[kMaxBlock], scale[kMaxBlock], shift[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t ch = c0 + b;
      var[b] /= m;  // biased: the normalisation uses the batch's own spread
      const double invstd = 1.0 / std::sqrt(var[b] + double(eps));
      save_mean[ch] = T(mean[b]);
      save_invstd[ch] = T(invstd);
      if (batch_var) batch_var[ch] = T(var[b]);
      // y = (x - mean_t) * scale + shift. Subtracting first keeps y accurate when |mean| >> std (x - mean_t
      // is then exact); shift absorbs the rounding of the mean to T, which alone could exceed the spread.
      const double sc = invstd * (gamma ? double(gamma[ch]) : 1.0);
      mean_t[b] = T(mean[b]);
      scale[b] = T(sc);
      shift[b] = T((beta ? double(beta[ch]) : 0.0) - (mean[b] - double(mean_t[b])) * sc);
    }
    channel_map(n, c, hw, c0, nb,
                [&](int64_t b, int64_t k) { y[k] = (x[k] - mean_t[b]) * scale[b] + shift[b]; });
  }
}

template <class T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t hw, const T* x, const T* gamma,
                               const T* save_mean, const T* save_invstd, const T* gy, T* gx, T* ggamma,
                               T* gbeta) {
  check_sizes(n, c, hw, "batch_norm_backward_train");
  SSL_CHECK(x && save_mean && save_invstd && gy,
            "batch_norm_backward_train: x, save_mean, save_invstd and gy must not be null");
  if (!gx && !ggamma && !gbeta) return;
  const int64_t bs = block_size(hw), blocks = (c + bs - 1) / bs;
  const double m = static_cast<double>(n * hw);

#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * bs, nb = std::min(c - c0, bs);
    // sum(gy) and sum(gy * (x - mean)): all the derivative needs besides gy and x themselves.
    double sum_gy[kMaxBlock] = {}, sum_gy_xmu[kMaxBlock] = {};
    T mean_t[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) mean_t[b] = save_mean[c0 + b];
    channel_sums(
        n, c, hw, c0, nb, sum_gy, [&](int64_t, int64_t k) { return double(gy[k]); }, sum_gy_xmu,
        [&](int64_t b, int64_t k) { return double(gy[k]) * (double(x[k]) - double(mean_t[b])); });

    T k_gy[kMaxBlock], k_x[kMaxBlock], k_0[kMaxBlock];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t ch = c0 + b;
      const double invstd = save_invstd[ch], g = gamma ? double(gamma[ch]) : 1.0;
      const double dgamma = invstd * sum_gy_xmu[b];  // sum(gy * xhat)
      if (ggamma) ggamma[ch] = T(dgamma);
      if (gbeta) gbeta[ch] = T(sum_gy[b]);
      // gx = g*invstd * (gy - sum_gy/m - xhat * dgamma/m), written as k_gy*gy - k_x*(x - mean) - k_0.
      k_gy[b] = T(g * invstd);
      k_x[b] = T(g * invstd * invstd * dgamma / m);
      k_0[b] = T(g * invstd * sum_gy[b] / m);
    }
    if (!gx) continue;
    channel_map(n, c, hw, c0, nb, [&](int64_t b, int64_t k) {
      gx[k] = k_gy[b] * gy[k] - k_x[b] * (x[k] - mean_t[b]) - k_0[b];
    });
  }
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
    channel_map(n, c, hw, c0, nb,
                [&](int64_t b, int64_t k) { y[k] = (x[k] - mean_t[b]) * scale[b] + shift[b]; });
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
    if (ggamma) {
      double sum_gy[kMaxBlock] = {}, sum_gy_xmu[kMaxBlock] = {};
      channel_sums(
          n, c, hw, c0, nb, sum_gy, [&](int64_t, int64_t k) { return double(gy[k]); }, sum_gy_xmu,
          [&](int64_t b, int64_t k) {
            return double(gy[k]) * (double(x[k]) - double(running_mean[c0 + b]));
          });
      for (int64_t b = 0; b < nb; ++b) {
        ggamma[c0 + b] = T(invstd[b] * sum_gy_xmu[b]);
        if (gbeta) gbeta[c0 + b] = T(sum_gy[b]);
      }
    } else if (gbeta) {
      double sum_gy[kMaxBlock] = {};
      channel_sum(n, c, hw, c0, nb, sum_gy, [&](int64_t, int64_t k) { return double(gy[k]); });
      for (int64_t b = 0; b < nb; ++b) gbeta[c0 + b] = T(sum_gy[b]);
    }
    if (gx) channel_map(n, c, hw, c0, nb, [&](int64_t b, int64_t k) { gx[k] = gy[k] * scale[b]; });
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
                                            const T*, T, const T*, T*, T*, T*);
SSL_INSTANTIATE_BATCH_NORM(float)
SSL_INSTANTIATE_BATCH_NORM(double)
#undef SSL_INSTANTIATE_BATCH_NORM

}  // namespace ssl::kernels::cpu

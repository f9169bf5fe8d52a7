// CPU pooling: one (image, channel) plane per OpenMP iteration. Planes are independent, so backward can
// scatter into its own plane of gx without races and the result does not depend on the thread count.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace ssl::kernels::cpu {
namespace {

void check_shape(const Pool2dShape& s, const char* fn) {
  SSL_CHECK(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1 && s.kh >= 1 && s.kw >= 1, fn,
            ": sizes must be positive, got n=", s.n, " c=", s.c, " h=", s.h, " w=", s.w, " kernel=", s.kh,
            "x", s.kw);
  SSL_CHECK(s.stride_h >= 1 && s.stride_w >= 1, fn, ": stride must be >= 1, got ", s.stride_h, "x",
            s.stride_w);
  // PyTorch's rule; it guarantees that every window overlaps the input (no window of padding only).
  SSL_CHECK(s.pad_h >= 0 && s.pad_w >= 0 && 2 * s.pad_h <= s.kh && 2 * s.pad_w <= s.kw, fn,
            ": padding must be between 0 and half the kernel, got pad=", s.pad_h, "x", s.pad_w,
            " kernel=", s.kh, "x", s.kw);
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, fn, ": kernel ", s.kh, "x", s.kw,
            " does not fit the padded input ", s.h + 2 * s.pad_h, "x", s.w + 2 * s.pad_w);
}

// The part of a window that lies inside the input: [lo, hi) along one axis for output position o.
struct Span {
  int64_t lo, hi;
};
inline Span window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + k, size)};
}

// The output columns ox whose window column j (input column ox*stride - pad + j) lies inside [0, size).
// Looping over these for a whole output row, one window column at a time, keeps the bounds tests out of
// the inner loop and lets it vectorise across outputs.
inline Span valid_outputs(int64_t j, int64_t stride, int64_t pad, int64_t size, int64_t out) {
  const int64_t off = j - pad;  // input column of ox = 0
  const int64_t lo = std::min(off >= 0 ? 0 : (-off + stride - 1) / stride, out);
  const int64_t hi = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
  return {lo, std::clamp(hi, lo, out)};
}

void check_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                    const char* fn) {
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1, fn,
            ": sizes must be positive, got n=", n, " c=", c, " h=", h, " w=", w, " out=", out_h, "x", out_w);
}

// PyTorch's adaptive bins: [floor(i*size/out), ceil((i+1)*size/out)).
inline Span bin(int64_t i, int64_t size, int64_t out) {
  return {i * size / out, ((i + 1) * size + out - 1) / out};
}

}  // namespace

// ---- max pooling ------------------------------------------------------------------------------------------

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* argmax) {
  check_shape(s, "max_pool2d_forward");
  SSL_CHECK(x && y && argmax, "max_pool2d_forward: x, y and argmax must not be null");
  const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c;
  // Local copies: the stores to argmax (int64_t) could otherwise alias the shape's fields.
  const int64_t w = s.w, sw = s.stride_w, pw = s.pad_w;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * s.h * w;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Span ry = window(oy, s.stride_h, s.pad_h, s.kh, s.h);
      T* yr = y + (pl * oh + oy) * ow;
      int64_t* ar = argmax + (pl * oh + oy) * ow;
      // Start from each window's first real element: padding (-inf) never wins, even against -inf inputs.
      for (int64_t ox = 0; ox < ow; ++ox) {
        yr[ox] = -std::numeric_limits<T>::infinity();
        ar[ox] = ry.lo * w + std::max<int64_t>(ox * sw - pw, 0);
      }
      // Visit the window's cells in row-major order, each for the whole output row at once.
      for (int64_t iy = ry.lo; iy < ry.hi; ++iy) {
        const T* xr = xp + iy * w;
        for (int64_t j = 0; j < s.kw; ++j) {
          const Span cols = valid_outputs(j, sw, pw, w, ow);
          const int64_t off = j - pw, base = iy * w;  // input column of ox is ox*sw + off
#pragma omp simd
          for (int64_t ox = cols.lo; ox < cols.hi; ++ox) {
            const T v = xr[ox * sw + off], cur = yr[ox];
            // Strictly greater: ties keep the earlier cell. NaN wins (v != v). `|`, not `||`: no branch, so
            // the loop vectorises.
            const bool take = (v > cur) | (v != v);
            yr[ox] = take ? v : cur;
            ar[ox] = take ? base + ox * sw + off : ar[ox];
          }
        }
      }
    }
  }
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const int64_t* argmax, T* gx) {
  check_shape(s, "max_pool2d_backward");
  SSL_CHECK(gy && argmax && gx, "max_pool2d_backward: gy, argmax and gx must not be null");
  const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c, hw = s.h * s.w;
  // Indices outside the plane are skipped, counted and reported afterwards (no throwing inside the loop).
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* gp = gx + pl * hw;
    const T* gyp = gy + pl * oh * ow;
    const int64_t* ap = argmax + pl * oh * ow;
    std::fill(gp, gp + hw, T(0));
    for (int64_t o = 0; o < oh * ow; ++o) {
      if (ap[o] < 0 || ap[o] >= hw) {
        ++bad;
        continue;
      }
      gp[ap[o]] += gyp[o];  // overlapping windows can choose the same input: add, don't assign
    }
  }
  SSL_CHECK(bad == 0, "max_pool2d_backward: ", bad, " argmax entries lie outside the ", s.h, "x", s.w,
            " input plane");
}

// ---- average pooling --------------------------------------------------------------------------------------

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
  check_shape(s, "avg_pool2d_forward");
  SSL_CHECK(x && y, "avg_pool2d_forward: x and y must not be null");
  const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c;
  // count_include_pad: the padded zeros count, so the divisor is the full window. (Without ceil_mode no
  // window reaches past the padding, so PyTorch's clipped window size is always kh*kw too.)
  const T scale = T(1) / T(s.kh * s.kw);
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * s.h * s.w;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Span ry = window(oy, s.stride_h, s.pad_h, s.kh, s.h);
      T* yr = y + (pl * oh + oy) * ow;
      std::fill(yr, yr + ow, T(0));
      for (int64_t iy = ry.lo; iy < ry.hi; ++iy) {
        const T* xr = xp + iy * s.w;
        for (int64_t j = 0; j < s.kw; ++j) {
          const Span cols = valid_outputs(j, s.stride_w, s.pad_w, s.w, ow);
#pragma omp simd
          for (int64_t ox = cols.lo; ox < cols.hi; ++ox) yr[ox] += xr[ox * s.stride_w - s.pad_w + j];
        }
      }
      for (int64_t ox = 0; ox < ow; ++ox) yr[ox] *= scale;
    }
  }
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* gy, T* gx) {
  check_shape(s, "avg_pool2d_backward");
  SSL_CHECK(gy && gx, "avg_pool2d_backward: gy and gx must not be null");
  const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c, hw = s.h * s.w;
  const T scale = T(1) / T(s.kh * s.kw);  // each of the kh*kw window cells gets this share
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* gp = gx + pl * hw;
    std::fill(gp, gp + hw, T(0));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const Span ry = window(oy, s.stride_h, s.pad_h, s.kh, s.h);
      const T* gyr = gy + (pl * oh + oy) * ow;
      for (int64_t iy = ry.lo; iy < ry.hi; ++iy) {
        T* gxr = gp + iy * s.w;
        for (int64_t j = 0; j < s.kw; ++j) {
          const Span cols = valid_outputs(j, s.stride_w, s.pad_w, s.w, ow);
          // Different ox hit different input columns here, so the loop has no conflicting writes.
#pragma omp simd
          for (int64_t ox = cols.lo; ox < cols.hi; ++ox)
            gxr[ox * s.stride_w - s.pad_w + j] += gyr[ox] * scale;
        }
      }
    }
  }
}

// ---- adaptive average pooling -----------------------------------------------------------------------------

template <class T>
void adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 const T* x, T* y) {
  check_adaptive(n, c, h, w, out_h, out_w, "adaptive_avg_pool2d_forward");
  SSL_CHECK(x && y, "adaptive_avg_pool2d_forward: x and y must not be null");
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * h * w;
    T* yp = y + pl * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Span ry = bin(oy, h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Span rx = bin(ox, w, out_w);
        T sum = 0;
        for (int64_t iy = ry.lo; iy < ry.hi; ++iy)
          for (int64_t ix = rx.lo; ix < rx.hi; ++ix) sum += xp[iy * w + ix];
        yp[oy * out_w + ox] = sum / T((ry.hi - ry.lo) * (rx.hi - rx.lo));
      }
    }
  }
}

template <class T>
void adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                  const T* gy, T* gx) {
  check_adaptive(n, c, h, w, out_h, out_w, "adaptive_avg_pool2d_backward");
  SSL_CHECK(gy && gx, "adaptive_avg_pool2d_backward: gy and gx must not be null");
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* gp = gx + pl * h * w;
    const T* gyp = gy + pl * out_h * out_w;
    std::fill(gp, gp + h * w, T(0));
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const Span ry = bin(oy, h, out_h);
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const Span rx = bin(ox, w, out_w);
        const T g = gyp[oy * out_w + ox] / T((ry.hi - ry.lo) * (rx.hi - rx.lo));
        for (int64_t iy = ry.lo; iy < ry.hi; ++iy)
          for (int64_t ix = rx.lo; ix < rx.hi; ++ix) gp[iy * w + ix] += g;  // bins may overlap: add
      }
    }
  }
}

#define SSL_INSTANTIATE_POOL(T)                                                                       \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int64_t*);                    \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int64_t*, T*);             \
  template void avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);                              \
  template void avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);                             \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,  \
                                               const T*, T*);                                         \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                                const T*, T*);
SSL_INSTANTIATE_POOL(float)
SSL_INSTANTIATE_POOL(double)
#undef SSL_INSTANTIATE_POOL

}  // namespace ssl::kernels::cpu

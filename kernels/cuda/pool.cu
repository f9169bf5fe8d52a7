// CUDA pooling (contracts in kernels/cuda/pool.h; CPU twin kernels/cpu/pool.cpp).
//
// One version: one thread per output element forward, one thread per input element backward. Backward
// gathers (each input visits the outputs whose window covers it) instead of scattering with atomics, so it is
// deterministic; it adds the outputs in row-major order, where the CPU's average-pool backward goes window
// cell by cell, so overlapping windows (kernel > stride) may round differently. Window cells are visited
// in row-major order as on the CPU, so max pooling picks the same argmax, ties and NaN included.
//
// Bytes (float32, batch 128, 64 ch at 32x32, 2x2 stride 2 max pool): forward reads x 33.6 MB and writes y
// 8.4 MB and argmax 16.8 MB (int64), 59 MB, 20 us at 3 TB/s; backward reads gy and argmax 25 MB and writes
// gx 33.6 MB, 59 MB, 20 us. About one flop per input element: memory-bound. Adaptive average pooling to 1x1
// (the global pool before a classifier head, e.g. 128 x 1024 x 2 x 2) reads 2 MB: launch latency dominates.
#include "kernels/cuda/pool.h"

#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

constexpr int kThreads = 256;

struct Geom {
  int64_t planes;
  int h, w, oh, ow, kh, kw, sh, sw, ph, pw;
};

__device__ __forceinline__ int ceil_div_nonneg(int a, int b) { return (a + b - 1) / b; }

// The outputs along one axis whose window covers input position i: [lo, hi).
__device__ __forceinline__ void covering(int i, int stride, int pad, int k, int out, int& lo, int& hi) {
  const int first = i + pad - k + 1;  // o*stride >= first
  lo = first <= 0 ? 0 : ceil_div_nonneg(first, stride);
  hi = min(out, (i + pad) / stride + 1);
}

template <class T>
__global__ void max_forward_kernel(Geom g, const T* x, T* y, int64_t* argmax) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(e % g.ow), oy = int(e / g.ow % g.oh);
    const int64_t p = e / (int64_t(g.ow) * g.oh);
    const T* xp = x + p * g.h * g.w;
    const int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    const int ylo = max(y0, 0), yhi = min(y0 + g.kh, g.h), xlo = max(x0, 0), xhi = min(x0 + g.kw, g.w);
    T best = xp[ylo * g.w + xlo];
    int64_t at = int64_t(ylo) * g.w + xlo;
    for (int iy = ylo; iy < yhi; ++iy)
      for (int ix = xlo; ix < xhi; ++ix) {
        const T v = xp[iy * g.w + ix];
        if (v > best || v != v) {  // strictly greater keeps the first of equal values; NaN wins
          best = v;
          at = int64_t(iy) * g.w + ix;
        }
      }
    y[e] = best;
    argmax[e] = at;
  }
}

template <class T>
__global__ void max_backward_kernel(Geom g, const T* gy, const int64_t* argmax, T* gx) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ix = int(e % g.w), iy = int(e / g.w % g.h);
    const int64_t p = e / (int64_t(g.w) * g.h), self = int64_t(iy) * g.w + ix;
    int oy0, oy1, ox0, ox1;
    covering(iy, g.sh, g.ph, g.kh, g.oh, oy0, oy1);
    covering(ix, g.sw, g.pw, g.kw, g.ow, ox0, ox1);
    const int64_t base = p * g.oh * g.ow;
    T acc = T(0);
    for (int oy = oy0; oy < oy1; ++oy)
      for (int ox = ox0; ox < ox1; ++ox) {
        const int64_t o = base + int64_t(oy) * g.ow + ox;
        if (argmax[o] == self) acc += gy[o];
      }
    gx[e] = acc;
  }
}

template <class T>
__global__ void avg_forward_kernel(Geom g, const T* x, T* y) {
  const int64_t total = g.planes * g.oh * g.ow;
  const T scale = T(1) / T(g.kh * g.kw);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(e % g.ow), oy = int(e / g.ow % g.oh);
    const T* xp = x + e / (int64_t(g.ow) * g.oh) * g.h * g.w;
    const int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    const int ylo = max(y0, 0), yhi = min(y0 + g.kh, g.h), xlo = max(x0, 0), xhi = min(x0 + g.kw, g.w);
    T sum = T(0);
    for (int iy = ylo; iy < yhi; ++iy)
      for (int ix = xlo; ix < xhi; ++ix) sum += xp[iy * g.w + ix];
    y[e] = sum * scale;
  }
}

template <class T>
__global__ void avg_backward_kernel(Geom g, const T* gy, T* gx) {
  const int64_t total = g.planes * g.h * g.w;
  const T scale = T(1) / T(g.kh * g.kw);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ix = int(e % g.w), iy = int(e / g.w % g.h);
    const T* gp = gy + e / (int64_t(g.w) * g.h) * g.oh * g.ow;
    int oy0, oy1, ox0, ox1;
    covering(iy, g.sh, g.ph, g.kh, g.oh, oy0, oy1);
    covering(ix, g.sw, g.pw, g.kw, g.ow, ox0, ox1);
    T acc = T(0);
    for (int oy = oy0; oy < oy1; ++oy)
      for (int ox = ox0; ox < ox1; ++ox) acc += gp[oy * g.ow + ox] * scale;
    gx[e] = acc;
  }
}

// PyTorch's adaptive bin of output i along an axis: [floor(i*size/out), ceil((i+1)*size/out)).
__device__ __forceinline__ int bin_lo(int i, int size, int out) { return int(int64_t(i) * size / out); }
__device__ __forceinline__ int bin_hi(int i, int size, int out) {
  return int((int64_t(i + 1) * size + out - 1) / out);
}

template <class T>
__global__ void adaptive_forward_kernel(int64_t planes, int h, int w, int oh, int ow, const T* x, T* y) {
  const int64_t total = planes * oh * ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(e % ow), oy = int(e / ow % oh);
    const T* xp = x + e / (int64_t(ow) * oh) * h * w;
    const int ylo = bin_lo(oy, h, oh), yhi = bin_hi(oy, h, oh), xlo = bin_lo(ox, w, ow),
              xhi = bin_hi(ox, w, ow);
    T sum = T(0);
    for (int iy = ylo; iy < yhi; ++iy)
      for (int ix = xlo; ix < xhi; ++ix) sum += xp[iy * w + ix];
    y[e] = sum / T((yhi - ylo) * (xhi - xlo));
  }
}

// Outputs whose bins cover input i: o in [floor(i*out/size), ceil((i+1)*out/size)) (then checked exactly).
template <class T>
__global__ void adaptive_backward_kernel(int64_t planes, int h, int w, int oh, int ow, const T* gy, T* gx) {
  const int64_t total = planes * h * w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ix = int(e % w), iy = int(e / w % h);
    const T* gp = gy + e / (int64_t(w) * h) * oh * ow;
    const int oy0 = int(int64_t(iy) * oh / h), oy1 = min(oh, int((int64_t(iy + 1) * oh + h - 1) / h));
    const int ox0 = int(int64_t(ix) * ow / w), ox1 = min(ow, int((int64_t(ix + 1) * ow + w - 1) / w));
    T acc = T(0);
    for (int oy = oy0; oy < oy1; ++oy) {
      const int ylo = bin_lo(oy, h, oh), yhi = bin_hi(oy, h, oh);
      if (iy < ylo || iy >= yhi) continue;
      for (int ox = ox0; ox < ox1; ++ox) {
        const int xlo = bin_lo(ox, w, ow), xhi = bin_hi(ox, w, ow);
        if (ix < xlo || ix >= xhi) continue;
        acc += gp[oy * ow + ox] / T((yhi - ylo) * (xhi - xlo));
      }
    }
    gx[e] = acc;
  }
}

// ---- host side ------------------------------------------------------------------------------------------

Geom checked_geom(const Pool2dShape& s, const char* fn) {
  SSL_CHECK(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1 && s.kh >= 1 && s.kw >= 1, fn,
            ": sizes must be positive, got n=", s.n, " c=", s.c, " h=", s.h, " w=", s.w, " kernel=", s.kh,
            "x", s.kw);
  SSL_CHECK(s.stride_h >= 1 && s.stride_w >= 1, fn, ": stride must be >= 1, got ", s.stride_h, "x",
            s.stride_w);
  SSL_CHECK(s.pad_h >= 0 && s.pad_w >= 0 && 2 * s.pad_h <= s.kh && 2 * s.pad_w <= s.kw, fn,
            ": padding must be between 0 and half the kernel, got pad=", s.pad_h, "x", s.pad_w,
            " kernel=", s.kh, "x", s.kw);
  SSL_CHECK(s.out_h() >= 1 && s.out_w() >= 1, fn, ": kernel ", s.kh, "x", s.kw,
            " does not fit the padded input ", s.h + 2 * s.pad_h, "x", s.w + 2 * s.pad_w);
  // The kernels index within an input or output plane with int.
  SSL_CHECK(s.h * s.w <= (int64_t(1) << 30) && s.out_h() * s.out_w() <= (int64_t(1) << 30) &&
                s.kh * s.kw <= (int64_t(1) << 30),
            fn, ": plane too large for the CUDA kernels (at most 2^30 elements in and out)");
  return Geom{s.n * s.c, int(s.h),        int(s.w),        int(s.out_h()), int(s.out_w()), int(s.kh),
              int(s.kw), int(s.stride_h), int(s.stride_w), int(s.pad_h),   int(s.pad_w)};
}

void check_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                    const char* fn) {
  SSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1, fn,
            ": sizes must be positive, got n=", n, " c=", c, " h=", h, " w=", w, " out=", out_h, "x", out_w);
  SSL_CHECK(h * w <= (int64_t(1) << 30) && out_h * out_w <= (int64_t(1) << 30), fn,
            ": plane too large for the CUDA kernels");
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int64_t* argmax) {
  const Geom g = checked_geom(s, "max_pool2d_forward");
  SSL_CHECK(x && y && argmax, "max_pool2d_forward: x, y and argmax must not be null");
  launch(max_forward_kernel<T>, blocks_for(g.planes * g.oh * g.ow, kThreads), kThreads, 0, g, x, y, argmax);
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* gy, const int64_t* argmax, T* gx) {
  const Geom g = checked_geom(s, "max_pool2d_backward");
  SSL_CHECK(gy && argmax && gx, "max_pool2d_backward: gy, argmax and gx must not be null");
  launch(max_backward_kernel<T>, blocks_for(g.planes * g.h * g.w, kThreads), kThreads, 0, g, gy, argmax, gx);
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
  const Geom g = checked_geom(s, "avg_pool2d_forward");
  SSL_CHECK(x && y, "avg_pool2d_forward: x and y must not be null");
  launch(avg_forward_kernel<T>, blocks_for(g.planes * g.oh * g.ow, kThreads), kThreads, 0, g, x, y);
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* gy, T* gx) {
  const Geom g = checked_geom(s, "avg_pool2d_backward");
  SSL_CHECK(gy && gx, "avg_pool2d_backward: gy and gx must not be null");
  launch(avg_backward_kernel<T>, blocks_for(g.planes * g.h * g.w, kThreads), kThreads, 0, g, gy, gx);
}

template <class T>
void adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 const T* x, T* y) {
  check_adaptive(n, c, h, w, out_h, out_w, "adaptive_avg_pool2d_forward");
  SSL_CHECK(x && y, "adaptive_avg_pool2d_forward: x and y must not be null");
  launch(adaptive_forward_kernel<T>, blocks_for(n * c * out_h * out_w, kThreads), kThreads, 0, n * c, int(h),
         int(w), int(out_h), int(out_w), x, y);
}

template <class T>
void adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                  const T* gy, T* gx) {
  check_adaptive(n, c, h, w, out_h, out_w, "adaptive_avg_pool2d_backward");
  SSL_CHECK(gy && gx, "adaptive_avg_pool2d_backward: gy and gx must not be null");
  launch(adaptive_backward_kernel<T>, blocks_for(n * c * h * w, kThreads), kThreads, 0, n * c, int(h), int(w),
         int(out_h), int(out_w), gy, gx);
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

}  // namespace ssl::kernels::SSL_CUDA_NS

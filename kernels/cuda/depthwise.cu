// CUDA depthwise convolution (contracts in kernels/cuda/depthwise.h; the CPU twin is
// kernels/cpu/depthwise.cpp).
//
// Versions, side by side with the same signatures:
//   _v1  naive. Forward: one thread per output, every tap with its bounds test. Backward: gx one thread per
//        input element gathering the outputs it fed (a stride test and a bounds test per tap); gw and gb one
//        block per channel, one block reduction per tap.
//   _v2  kernel size and stride as template parameters (3x3 stride 1 and stride 2 instantiated, any other
//        shape runs the generic instance), taps unrolled, bounds hoisted: an output whose window lies inside
//        the image runs all taps without a test, a border output loops over the precomputed valid tap range.
//        gw and gb: each thread keeps all 9 tap sums and the bias sum in registers in one pass over x and gy;
//        a block reduces them into per-block partials over a fixed chunk of the channel's outputs, and a
//        second kernel sums the chunks of each channel in order (deterministic, no float atomics, and enough
//        blocks to fill the GPU even for 32 channels). Other kernel sizes take _v1's gw/gb.
//   _v3  tiles in shared memory. Forward: a block computes an output tile of one (n, c) plane, or of several
//        planes at once when the plane is small (4x4, 2x2: one tile per plane would leave most threads idle),
//        from a halo tile of the input loaded once with coalesced reads and the zero padding written into it,
//        so no tap needs a bounds test and every input element is read from DRAM once per tile instead of
//        up to kh*kw times through the cache. gx likewise from a shared tile of gy. gw and gb as _v2.
// The unsuffixed functions call _v3.
//
// Floors (float32, batch 128, MobileNetV1 at 32x32; bytes that must move: forward x + y, backward x + gy +
// gx; flops: 2*9 per output forward, ~37 per output backward for gx, gw and gb). H100: ~3 TB/s, ~60 TFLOP/s:
//   layer (3x3)            forward bytes   floor      backward bytes   floor     forward flops
//   32 ch  32x32 s1        33.6 MB         11.2 us    50.3 MB          16.8 us   75 MFLOP (1.3 us)
//   64 ch  32x32 s2        41.9 MB         14.0 us    75.5 MB          25.2 us   38 MFLOP
//   128 ch 16x16 s1        33.6 MB         11.2 us    50.3 MB          16.8 us   75 MFLOP
//   256 ch 8x8 s1          16.8 MB          5.6 us    25.2 MB           8.4 us   38 MFLOP
//   512 ch 4x4 s1           8.4 MB          2.8 us    12.6 MB           4.2 us   19 MFLOP
//   1024 ch 2x2 s1          4.2 MB          1.4 us     6.3 MB           2.1 us    9 MFLOP
// At 18-37 flops per 8-12 bytes (2-3 flop/byte against the machine's 20) every layer is memory-bound, so the
// goal is to move each byte once: _v3 forward does; backward reads gy twice (once for gx, once for gw and
// gb), 4/3 of the floor for stride 1, and the small planes are bound by launch latency (a few us).
#include "kernels/cuda/depthwise.h"

#include <algorithm>
#include <limits>

#include "kernels/cuda/kernel.cuh"
#include "kernels/cuda/reduce_block.cuh"
#include "kernels/cuda/scratch.cuh"

namespace ssl::kernels::SSL_CUDA_NS {
namespace {

// The shape as the kernels read it (plane sizes fit in int; plane and element counts are int64 where used).
struct Geom {
  int n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
};

Geom geom_of(const Conv2dShape& s) {
  return Geom{int(s.n),  int(s.c_in), int(s.h),        int(s.w),        int(s.out_h()), int(s.out_w()),
              int(s.kh), int(s.kw),   int(s.stride_h), int(s.stride_w), int(s.pad_h),   int(s.pad_w)};
}

__host__ __device__ inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

constexpr int kThreads = 256;

// ---- v1: naive -------------------------------------------------------------------------------------------

template <class T>
__global__ void forward_v1_kernel(Geom g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t total = int64_t(g.n) * g.c * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(e % g.ow), oy = int(e / g.ow % g.oh);
    const int64_t p = e / (int64_t(g.ow) * g.oh);
    const int c = int(p % g.c);
    T acc = bias ? bias[c] : T(0);
    for (int i = 0; i < g.kh; ++i)
      for (int j = 0; j < g.kw; ++j) {
        const int iy = oy * g.sh - g.ph + i, ix = ox * g.sw - g.pw + j;
        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
          acc += w[(c * g.kh + i) * g.kw + j] * x[(p * g.h + iy) * g.w + ix];
      }
    y[e] = acc;
  }
}

// gx[iy][ix] = sum over taps (i, j) with iy = oy*sh - ph + i, ix = ox*sw - pw + j of w[i][j] gy[oy][ox].
template <class T>
__global__ void input_grad_v1_kernel(Geom g, const T* w, const T* gy, T* gx) {
  const int64_t total = int64_t(g.n) * g.c * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ix = int(e % g.w), iy = int(e / g.w % g.h);
    const int64_t p = e / (int64_t(g.w) * g.h);
    const int c = int(p % g.c);
    T acc = T(0);
    for (int i = 0; i < g.kh; ++i)
      for (int j = 0; j < g.kw; ++j) {
        const int ny = iy + g.ph - i, nx = ix + g.pw - j;  // = oy*sh, ox*sw
        if (ny < 0 || nx < 0 || ny % g.sh != 0 || nx % g.sw != 0) continue;
        const int oy = ny / g.sh, ox = nx / g.sw;
        if (oy < g.oh && ox < g.ow) acc += w[(c * g.kh + i) * g.kw + j] * gy[(p * g.oh + oy) * g.ow + ox];
      }
    gx[e] = acc;
  }
}

// One block per channel; for each wanted tap (and the bias, tap kh*kw) the block sums over the channel's
// n*oh*ow outputs, each thread a fixed strided subset, then block_sum: deterministic.
template <class T>
__global__ void param_grad_v1_kernel(Geom g, const T* x, const T* gy, T* gw, T* gb) {
  const int c = blockIdx.x, taps = g.kh * g.kw;
  const int64_t plane = int64_t(g.oh) * g.ow, count = g.n * plane;
  for (int tap = gw ? 0 : taps; tap <= taps; ++tap) {
    if (tap == taps && !gb) break;
    const int i = tap / g.kw, j = tap % g.kw;
    T sum = T(0);
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      const int64_t b = e / plane, q = e % plane, p = b * g.c + c;
      const T gv = gy[p * plane + q];
      if (tap == taps) {
        sum += gv;
        continue;
      }
      const int oy = int(q / g.ow), ox = int(q % g.ow);
      const int iy = oy * g.sh - g.ph + i, ix = ox * g.sw - g.pw + j;
      if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) sum += gv * x[(p * g.h + iy) * g.w + ix];
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0) (tap == taps ? gb[c] : gw[c * taps + tap]) = sum;
  }
}

// ---- v2: kernel size and stride as template parameters, bounds hoisted ----------------------------------
// K, S: compile-time kernel size and stride (both directions), or 0 for the runtime ones.

template <class T, int K, int S>
__global__ void forward_v2_kernel(Geom g, const T* x, const T* w, const T* bias, T* y) {
  const int kh = K ? K : g.kh, kw = K ? K : g.kw, sh = S ? S : g.sh, sw = S ? S : g.sw;
  const int64_t total = int64_t(g.n) * g.c * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(e % g.ow), oy = int(e / g.ow % g.oh);
    const int64_t p = e / (int64_t(g.ow) * g.oh);
    const int c = int(p % g.c);
    const int iy0 = oy * sh - g.ph, ix0 = ox * sw - g.pw;
    const T* xp = x + (p * g.h + iy0) * g.w + ix0;  // the window's top-left corner (maybe outside)
    const T* wc = w + c * kh * kw;
    T acc = bias ? __ldg(bias + c) : T(0);
    if (iy0 >= 0 && ix0 >= 0 && iy0 + kh <= g.h && ix0 + kw <= g.w) {
#pragma unroll
      for (int i = 0; i < kh; ++i)
#pragma unroll
        for (int j = 0; j < kw; ++j) acc += __ldg(wc + i * kw + j) * __ldg(xp + i * g.w + j);
    } else {  // border: the taps inside the image form one rectangle
      const int i0 = max(0, -iy0), i1 = min(kh, g.h - iy0), j0 = max(0, -ix0), j1 = min(kw, g.w - ix0);
      for (int i = i0; i < i1; ++i)
        for (int j = j0; j < j1; ++j) acc += __ldg(wc + i * kw + j) * __ldg(xp + i * g.w + j);
    }
    y[e] = acc;
  }
}

template <class T, int K, int S>
__global__ void input_grad_v2_kernel(Geom g, const T* w, const T* gy, T* gx) {
  const int kh = K ? K : g.kh, kw = K ? K : g.kw, sh = S ? S : g.sh, sw = S ? S : g.sw;
  const int64_t total = int64_t(g.n) * g.c * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int ix = int(e % g.w), iy = int(e / g.w % g.h);
    const int64_t p = e / (int64_t(g.w) * g.h);
    const int c = int(p % g.c);
    const T* wc = w + c * kh * kw;
    const T* gp = gy + p * g.oh * g.ow;
    // Tap i reaches this row from output row (iy + ph - i) / sh when that divides; all such rows lie in
    // [0, oh) when the highest (i = 0) and the lowest (i = kh - 1) do, and likewise for columns.
    const int ny = iy + g.ph, nx = ix + g.pw;
    const bool inside = ny - (kh - 1) >= 0 && ny / sh < g.oh && nx - (kw - 1) >= 0 && nx / sw < g.ow;
    T acc = T(0);
#pragma unroll
    for (int i = 0; i < kh; ++i) {
      const int ry = ny - i;
      if (ry % sh != 0 || (!inside && (ry < 0 || ry / sh >= g.oh))) continue;
#pragma unroll
      for (int j = 0; j < kw; ++j) {
        const int rx = nx - j;
        if (rx % sw != 0 || (!inside && (rx < 0 || rx / sw >= g.ow))) continue;
        acc += __ldg(wc + i * kw + j) * __ldg(gp + (ry / sh) * g.ow + rx / sw);
      }
    }
    gx[e] = acc;
  }
}

// Per-block partials of gw (K*K taps) and gb for block (channel c, chunk q of the channel's n*oh*ow outputs):
// partial[(c * chunks + q) * (K*K + 1) + tap], the bias last.
template <class T, int K, int S>
__global__ void param_grad_partial_kernel(Geom g, int chunks, const T* x, const T* gy, T* partial) {
  constexpr int taps = K * K;
  const int c = int(blockIdx.x / chunks), q = int(blockIdx.x % chunks);
  const int64_t plane = int64_t(g.oh) * g.ow, count = g.n * plane;
  const int64_t begin = count * q / chunks, end = count * (q + 1) / chunks;
  T acc[taps + 1];
#pragma unroll
  for (int t = 0; t <= taps; ++t) acc[t] = T(0);
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const int64_t b = e / plane, r = e % plane, p = b * g.c + c;
    const int oy = int(r / g.ow), ox = int(r % g.ow);
    const T gv = __ldg(gy + p * plane + r);
    acc[taps] += gv;
    if (x == nullptr) continue;
    const int iy0 = oy * S - g.ph, ix0 = ox * S - g.pw;
    const T* xp = x + (p * g.h + iy0) * g.w + ix0;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + K <= g.h && ix0 + K <= g.w) {
#pragma unroll
      for (int i = 0; i < K; ++i)
#pragma unroll
        for (int j = 0; j < K; ++j) acc[i * K + j] += gv * __ldg(xp + i * g.w + j);
    } else {
#pragma unroll
      for (int i = 0; i < K; ++i)
#pragma unroll
        for (int j = 0; j < K; ++j)
          if (iy0 + i >= 0 && iy0 + i < g.h && ix0 + j >= 0 && ix0 + j < g.w)
            acc[i * K + j] += gv * __ldg(xp + i * g.w + j);
    }
  }
  T* out = partial + int64_t(blockIdx.x) * (taps + 1);
#pragma unroll
  for (int t = 0; t <= taps; ++t) {
    const T total = block_sum(acc[t]);
    if (threadIdx.x == 0) out[t] = total;
  }
}

// gw[c][tap] (and gb[c], tap == taps) = the channel's partials summed in chunk order: one thread each.
template <class T>
__global__ void param_grad_finish_kernel(int channels, int taps, int chunks, const T* partial, T* gw, T* gb) {
  // In int64: the last block's threads run past c (taps + 1), which may be close to int's limit.
  const int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (e >= int64_t(channels) * (taps + 1)) return;
  const int c = int(e / (taps + 1)), t = int(e % (taps + 1));
  if (t == taps ? !gb : !gw) return;
  T sum = T(0);
  for (int q = 0; q < chunks; ++q) sum += partial[(int64_t(c) * chunks + q) * (taps + 1) + t];
  (t == taps ? gb[c] : gw[c * taps + t]) = sum;
}

// ---- v3: tiles in shared memory -------------------------------------------------------------------------

// How a plane of out_h x out_w results is cut into blocks: tiles of th x tw results, `planes` planes per
// block when one plane is smaller than a block; each tile reads an ih x iw window of its source plane.
struct Tiling {
  int tw, th, planes, ih, iw, tiles_x, tiles_y;
  int threads() const { return planes * th * tw; }
};

Tiling tiling_of(int out_h, int out_w, int ih, int iw, int planes_total) {
  Tiling t;
  t.tw = std::min(out_w, 32);
  t.th = std::min(out_h, std::max(1, kThreads / t.tw));
  t.planes = std::min(planes_total, std::max(1, kThreads / (t.tw * t.th)));
  t.ih = ih;
  t.iw = iw;
  t.tiles_x = (out_w + t.tw - 1) / t.tw;
  t.tiles_y = (out_h + t.th - 1) / t.th;
  return t;
}

// Forward: the input window of an output tile is ((th-1)*sh + kh) x ((tw-1)*sw + kw).
Tiling forward_tiling(const Geom& g) {
  const int tw = std::min(g.ow, 32), th = std::min(g.oh, std::max(1, kThreads / tw));
  return tiling_of(g.oh, g.ow, (th - 1) * g.sh + g.kh, (tw - 1) * g.sw + g.kw, g.n * g.c);
}

// gx: the gy window of an input tile. Its rows are floor((iy0 + ph - kh + 1)/sh) .. floor((iy0 + th-1 +
// ph)/sh), at most (th + kh - 2)/sh + 2 of them wherever the tile starts; columns likewise.
Tiling input_grad_tiling(const Geom& g) {
  const int tw = std::min(g.w, 32), th = std::min(g.h, std::max(1, kThreads / tw));
  return tiling_of(g.h, g.w, (th + g.kh - 2) / g.sh + 2, (tw + g.kw - 2) / g.sw + 2, g.n * g.c);
}

constexpr size_t kMaxSharedBytes = 48 * 1024;  // without opting in to more

// Block b: tile (b % tiles_x, b / tiles_x % tiles_y) of planes [group * planes, +planes). Thread t: plane
// t / (th*tw) of the group, result (t / tw % th, t % tw) of the tile.
template <class T, int K, int S>
__global__ void forward_v3_kernel(Geom g, Tiling tl, const T* x, const T* w, const T* bias, T* y) {
  SSL_DYNAMIC_SHARED(T, tile);
  const int kh = K ? K : g.kh, kw = K ? K : g.kw, sh = S ? S : g.sh, sw = S ? S : g.sw;
  const int64_t planes = int64_t(g.n) * g.c;
  const int bx = int(blockIdx.x % tl.tiles_x), by = int(blockIdx.x / tl.tiles_x % tl.tiles_y);
  const int64_t p0 = int64_t(blockIdx.x / (tl.tiles_x * tl.tiles_y)) * tl.planes;
  const int oy0 = by * tl.th, ox0 = bx * tl.tw, iy0 = oy0 * sh - g.ph, ix0 = ox0 * sw - g.pw;
  const int window = tl.ih * tl.iw;
  // Load the windows, zero outside the image (the padding) and past the last plane. Consecutive threads read
  // consecutive columns: coalesced.
  for (int q = threadIdx.x; q < tl.planes * window; q += blockDim.x) {
    const int64_t p = p0 + q / window;
    const int iy = iy0 + q % window / tl.iw, ix = ix0 + q % tl.iw;
    tile[q] = p < planes && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? __ldg(x + (p * g.h + iy) * g.w + ix)
                                                                       : T(0);
  }
  __syncthreads();
  const int t = threadIdx.x, per_plane = tl.th * tl.tw;
  const int64_t p = p0 + t / per_plane;
  const int ly = t % per_plane / tl.tw, lx = t % tl.tw, oy = oy0 + ly, ox = ox0 + lx;
  if (p >= planes || oy >= g.oh || ox >= g.ow) return;
  const int c = int(p % g.c);
  const T* wc = w + c * kh * kw;
  const T* src = tile + (t / per_plane) * window + (ly * sh) * tl.iw + lx * sw;
  T acc = bias ? __ldg(bias + c) : T(0);
#pragma unroll
  for (int i = 0; i < kh; ++i)
#pragma unroll
    for (int j = 0; j < kw; ++j) acc += __ldg(wc + i * kw + j) * src[i * tl.iw + j];
  y[(p * g.oh + oy) * g.ow + ox] = acc;
}

// gx from a shared window of gy: rows gy0 .. gy0 + ih - 1 of gy (zero outside [0, oh)), where gy0 =
// floor((iy0 + ph - kh + 1) / sh); input row iy gets tap i from window row (iy + ph - i - sh*gy0) / sh when
// that divides (the numerator is >= 0 by the choice of gy0, so no negative remainders).
template <class T, int K, int S>
__global__ void input_grad_v3_kernel(Geom g, Tiling tl, const T* w, const T* gy, T* gx) {
  SSL_DYNAMIC_SHARED(T, tile);
  const int kh = K ? K : g.kh, kw = K ? K : g.kw, sh = S ? S : g.sh, sw = S ? S : g.sw;
  const int64_t planes = int64_t(g.n) * g.c;
  const int bx = int(blockIdx.x % tl.tiles_x), by = int(blockIdx.x / tl.tiles_x % tl.tiles_y);
  const int64_t p0 = int64_t(blockIdx.x / (tl.tiles_x * tl.tiles_y)) * tl.planes;
  const int iy0 = by * tl.th, ix0 = bx * tl.tw;
  const int gy0 = floor_div(iy0 + g.ph - kh + 1, sh), gx0 = floor_div(ix0 + g.pw - kw + 1, sw);
  const int window = tl.ih * tl.iw;
  for (int q = threadIdx.x; q < tl.planes * window; q += blockDim.x) {
    const int64_t p = p0 + q / window;
    const int oy = gy0 + q % window / tl.iw, ox = gx0 + q % tl.iw;
    tile[q] = p < planes && oy >= 0 && oy < g.oh && ox >= 0 && ox < g.ow
                  ? __ldg(gy + (p * g.oh + oy) * g.ow + ox)
                  : T(0);
  }
  __syncthreads();
  const int t = threadIdx.x, per_plane = tl.th * tl.tw;
  const int64_t p = p0 + t / per_plane;
  const int iy = iy0 + t % per_plane / tl.tw, ix = ix0 + t % tl.tw;
  if (p >= planes || iy >= g.h || ix >= g.w) return;
  const int c = int(p % g.c);
  const T* wc = w + c * kh * kw;
  const T* src = tile + (t / per_plane) * window;
  const int ry0 = iy + g.ph - sh * gy0, rx0 = ix + g.pw - sw * gx0;
  T acc = T(0);
#pragma unroll
  for (int i = 0; i < kh; ++i) {
    if ((ry0 - i) % sh != 0) continue;
#pragma unroll
    for (int j = 0; j < kw; ++j) {
      if ((rx0 - j) % sw != 0) continue;
      acc += __ldg(wc + i * kw + j) * src[((ry0 - i) / sh) * tl.iw + (rx0 - j) / sw];
    }
  }
  gx[(p * g.h + iy) * g.w + ix] = acc;
}

// ---- host side ------------------------------------------------------------------------------------------

void check_shape(const Conv2dShape& s, const char* fn) {
  check_conv2d_shape(s, fn);
  SSL_CHECK(s.is_depthwise(), fn, ": needs groups == c_in == c_out, got c_in=", s.c_in, " c_out=", s.c_out,
            " groups=", s.groups);
  // The kernels count planes, index within a plane, and index the weights and their gradients' per-channel
  // partials ([c, taps + 1]) with int.
  const int64_t int_max = std::numeric_limits<int>::max();
  SSL_CHECK(s.n * s.c_in <= int_max && s.h * s.w <= (int64_t(1) << 30) &&
                s.out_h() * s.out_w() <= (int64_t(1) << 30) && s.c_in * (s.kh * s.kw + 1) <= int_max,
            fn, ": too many planes, too large a plane or too many weights for the CUDA kernels");
}

void check_backward(const Conv2dShape& s, const void* x, const void* w, const void* gy, const void* gx,
                    const void* gw) {
  check_shape(s, "depthwise_conv2d_backward");
  SSL_CHECK(gy, "depthwise_conv2d_backward: gy must not be null");
  SSL_CHECK(!gw || x, "depthwise_conv2d_backward: x is needed for the weight gradient");
  SSL_CHECK(!gx || w, "depthwise_conv2d_backward: w is needed for the input gradient");
}

enum class Kind { k3s1, k3s2, generic };
Kind kind_of(const Conv2dShape& s) {
  if (s.kh == 3 && s.kw == 3 && s.stride_h == 1 && s.stride_w == 1) return Kind::k3s1;
  if (s.kh == 3 && s.kw == 3 && s.stride_h == 2 && s.stride_w == 2) return Kind::k3s2;
  return Kind::generic;
}

template <class T>
void param_grad_v1(const Geom& g, const T* x, const T* gy, T* gw, T* gb) {
  if (gw || gb) launch(param_grad_v1_kernel<T>, unsigned(g.c), kThreads, 0, g, x, gy, gw, gb);
}

// Chunks per channel, from the shape only (so the summation order, hence the bits, never depends on the
// device): about 4096 outputs per block, at most 256 blocks per channel.
int chunks_of(const Geom& g) {
  const int64_t count = int64_t(g.n) * g.oh * g.ow;
  return int(std::min<int64_t>(256, std::max<int64_t>(1, count / 4096)));
}

template <class T, int K, int S>
void param_grad_v2_instance(const Geom& g, const T* x, const T* gy, T* gw, T* gb) {
  const int chunks = chunks_of(g), taps = K * K;
  DeviceScratch<T> partial(int64_t(g.c) * chunks * (taps + 1));
  launch(param_grad_partial_kernel<T, K, S>, unsigned(int64_t(g.c) * chunks), kThreads, 0, g, chunks,
         gw ? x : nullptr, gy, partial.get());
  const int64_t outputs = int64_t(g.c) * (taps + 1);
  launch(param_grad_finish_kernel<T>, blocks_covering(outputs, kThreads), kThreads, 0, g.c, taps, chunks,
         static_cast<const T*>(partial.get()), gw, gb);
}

template <class T>
void param_grad_v2(const Conv2dShape& s, const Geom& g, const T* x, const T* gy, T* gw, T* gb) {
  if (!gw && !gb) return;
  switch (kind_of(s)) {
    case Kind::k3s1:
      return param_grad_v2_instance<T, 3, 1>(g, x, gy, gw, gb);
    case Kind::k3s2:
      return param_grad_v2_instance<T, 3, 2>(g, x, gy, gw, gb);
    default:
      return param_grad_v1(g, x, gy, gw, gb);
  }
}

template <class T, int K, int S>
void forward_v2_instance(const Geom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t total = int64_t(g.n) * g.c * g.oh * g.ow;
  launch(forward_v2_kernel<T, K, S>, blocks_for(total, kThreads), kThreads, 0, g, x, w, bias, y);
}

template <class T, int K, int S>
void input_grad_v2_instance(const Geom& g, const T* w, const T* gy, T* gx) {
  const int64_t total = int64_t(g.n) * g.c * g.h * g.w;
  launch(input_grad_v2_kernel<T, K, S>, blocks_for(total, kThreads), kThreads, 0, g, w, gy, gx);
}

// Launches a v3 kernel over the tiling; false (nothing launched) when its windows exceed shared memory.
template <class T, class Kernel, class... Args>
bool launch_tiled(Kernel kernel, const Geom& g, const Tiling& tl, Args... args) {
  const size_t bytes = sizeof(T) * size_t(tl.planes) * tl.ih * tl.iw;
  if (bytes > kMaxSharedBytes) return false;
  const int64_t groups = (int64_t(g.n) * g.c + tl.planes - 1) / tl.planes;
  launch(kernel, unsigned(groups * tl.tiles_x * tl.tiles_y), unsigned(tl.threads()), bytes, g, tl, args...);
  return true;
}

template <class T, int K, int S>
void forward_v3_instance(const Geom& g, const T* x, const T* w, const T* bias, T* y) {
  if (!launch_tiled<T>(forward_v3_kernel<T, K, S>, g, forward_tiling(g), x, w, bias, y))
    forward_v2_instance<T, K, S>(g, x, w, bias, y);
}

template <class T, int K, int S>
void input_grad_v3_instance(const Geom& g, const T* w, const T* gy, T* gx) {
  if (!launch_tiled<T>(input_grad_v3_kernel<T, K, S>, g, input_grad_tiling(g), w, gy, gx))
    input_grad_v2_instance<T, K, S>(g, w, gy, gx);
}

}  // namespace

template <class T>
void depthwise_conv2d_forward_v1(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  const Geom g = geom_of(s);
  const int64_t total = int64_t(g.n) * g.c * g.oh * g.ow;
  launch(forward_v1_kernel<T>, blocks_for(total, kThreads), kThreads, 0, g, x, w, bias, y);
}

template <class T>
void depthwise_conv2d_forward_v2(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  const Geom g = geom_of(s);
  switch (kind_of(s)) {
    case Kind::k3s1:
      return forward_v2_instance<T, 3, 1>(g, x, w, bias, y);
    case Kind::k3s2:
      return forward_v2_instance<T, 3, 2>(g, x, w, bias, y);
    default:
      return forward_v2_instance<T, 0, 0>(g, x, w, bias, y);
  }
}

template <class T>
void depthwise_conv2d_forward_v3(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  check_shape(s, "depthwise_conv2d_forward");
  SSL_CHECK(x && w && y, "depthwise_conv2d_forward: x, w and y must not be null");
  const Geom g = geom_of(s);
  switch (kind_of(s)) {
    case Kind::k3s1:
      return forward_v3_instance<T, 3, 1>(g, x, w, bias, y);
    case Kind::k3s2:
      return forward_v3_instance<T, 3, 2>(g, x, w, bias, y);
    default:
      return forward_v3_instance<T, 0, 0>(g, x, w, bias, y);
  }
}

template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  depthwise_conv2d_forward_v3(s, x, w, bias, y);
}

template <class T>
void depthwise_conv2d_backward_v1(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_backward(s, x, w, gy, gx, gw);
  const Geom g = geom_of(s);
  if (gx) {
    const int64_t total = int64_t(g.n) * g.c * g.h * g.w;
    launch(input_grad_v1_kernel<T>, blocks_for(total, kThreads), kThreads, 0, g, w, gy, gx);
  }
  param_grad_v1(g, x, gy, gw, gb);
}

template <class T>
void depthwise_conv2d_backward_v2(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_backward(s, x, w, gy, gx, gw);
  const Geom g = geom_of(s);
  if (gx) {
    switch (kind_of(s)) {
      case Kind::k3s1:
        input_grad_v2_instance<T, 3, 1>(g, w, gy, gx);
        break;
      case Kind::k3s2:
        input_grad_v2_instance<T, 3, 2>(g, w, gy, gx);
        break;
      default:
        input_grad_v2_instance<T, 0, 0>(g, w, gy, gx);
    }
  }
  param_grad_v2(s, g, x, gy, gw, gb);
}

template <class T>
void depthwise_conv2d_backward_v3(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                                  T* gb) {
  check_backward(s, x, w, gy, gx, gw);
  const Geom g = geom_of(s);
  if (gx) {
    switch (kind_of(s)) {
      case Kind::k3s1:
        input_grad_v3_instance<T, 3, 1>(g, w, gy, gx);
        break;
      case Kind::k3s2:
        input_grad_v3_instance<T, 3, 2>(g, w, gy, gx);
        break;
      default:
        input_grad_v3_instance<T, 0, 0>(g, w, gy, gx);
    }
  }
  param_grad_v2(s, g, x, gy, gw, gb);
}

template <class T>
void depthwise_conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw,
                               T* gb) {
  depthwise_conv2d_backward_v3(s, x, w, gy, gx, gw, gb);
}

#define SSL_DEPTHWISE_INSTANTIATE(T)                                                                        \
  template void depthwise_conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);          \
  template void depthwise_conv2d_forward_v1<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void depthwise_conv2d_forward_v2<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void depthwise_conv2d_forward_v3<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void depthwise_conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*); \
  template void depthwise_conv2d_backward_v1<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*,   \
                                                T*);                                                        \
  template void depthwise_conv2d_backward_v2<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*,   \
                                                T*);                                                        \
  template void depthwise_conv2d_backward_v3<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);
SSL_DEPTHWISE_INSTANTIATE(float)
SSL_DEPTHWISE_INSTANTIATE(double)
#undef SSL_DEPTHWISE_INSTANTIATE

}  // namespace ssl::kernels::SSL_CUDA_NS

// Elementwise kernels on strided operands: unary, binary, convert and fill (contracts in
// kernels/cuda/elementwise.h; the per-element formulas in kernels/common/elementwise_ops.h).
//
// Versions, same signatures:
//   _v1  general strided: one thread per output element (grid-stride loop) turns its flat index into an
//        offset per operand with a div/mod per dim. Handles transposed views and any broadcast.
//   _v2  contiguous fast path: when, after merging dims, the output and every input are contiguous (or an
//        input is a broadcast scalar), the offset is the index itself; each thread moves 16 bytes per load
//        (float4 / double2 sized packs) when every pointer is aligned to the pack, then a scalar tail.
//   unsuffixed: _v2 whenever it applies, else _v1.
// Both merge the dims on the host first (drop size-1 dims, fuse neighbours contiguous in every operand), as
// the CPU kernel does, so a contiguous tensor is one flat dim and _v1's index arithmetic is short.
//
// The floor, for a typical shape (binary add of two float [256, 64, 32, 32] activations, 16.8 M elements):
// bytes 3 × 4 × 16.8 M = 201 MB (read a, b, write out), flops 16.8 M: 0.08 flop/byte, so purely
// memory-bound: on an H100 (~3 TB/s) 67 µs; the 0.3 µs the flops need at 60 TFLOP/s do not matter. _v2
// aims at that floor; _v1's per-element integer divisions cost extra issue slots but the loads still
// dominate unless the strides scatter them over cache lines (a transpose).
#include <array>

#include "core/error.h"
#include "kernels/common/elementwise_ops.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/kernel.cuh"

namespace ssl::kernels::SSL_CUDA_NS {

namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

// The shape after merging dims, with K operands' strides (operand 0 is the output); passed to the kernels by
// value. ndim 0 means a single element.
template <int K>
struct Geometry {
  int ndim;
  int64_t n;  // number of elements
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
};

template <int K>
Geometry<K> merge_dims(const char* op, int64_t ndim, const int64_t* shape,
                       std::array<const int64_t*, K> strides) {
  SSL_CHECK(ndim >= 0 && ndim <= kMaxDims, op, ": ", ndim, " dims, but the CUDA kernels take at most ",
            kMaxDims);
  Geometry<K> g{};
  g.n = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    SSL_CHECK(shape[d] >= 0, op, ": negative size ", shape[d], " in dim ", d);
    g.n *= shape[d];
    if (shape[d] == 1) continue;
    bool merge = g.ndim > 0;
    for (int k = 0; k < K && merge; ++k) merge = g.strides[k][g.ndim - 1] == strides[k][d] * shape[d];
    if (merge) {
      g.shape[g.ndim - 1] *= shape[d];
      for (int k = 0; k < K; ++k) g.strides[k][g.ndim - 1] = strides[k][d];
    } else {
      g.shape[g.ndim] = shape[d];
      for (int k = 0; k < K; ++k) g.strides[k][g.ndim] = strides[k][d];
      ++g.ndim;
    }
  }
  return g;
}

template <int K>
bool contiguous(const Geometry<K>& g, int k) {
  return g.ndim == 0 || (g.ndim == 1 && g.strides[k][0] == 1);
}
template <int K>
bool scalar(const Geometry<K>& g, int k) {
  for (int d = 0; d < g.ndim; ++d)
    if (g.strides[k][d] != 0) return false;
  return true;
}
// _v2 applies: the output contiguous, every input contiguous or a broadcast scalar.
template <int K>
bool flat(const Geometry<K>& g) {
  if (!contiguous(g, 0)) return false;
  for (int k = 1; k < K; ++k)
    if (!contiguous(g, k) && !scalar(g, k)) return false;
  return true;
}
bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

enum class Version { v1, v2, best };

// W elements moved as one aligned 16-byte (or smaller) load or store.
template <class T, int W>
struct alignas(sizeof(T) * W) Pack {
  T v[W];
};

__device__ __forceinline__ int64_t first_index() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// The offset of flat element i in every operand (innermost dim fastest).
template <int K>
__device__ __forceinline__ void offsets_of(const Geometry<K>& g, int64_t i, int64_t (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t c = i % g.shape[d];
    i /= g.shape[d];
    for (int k = 0; k < K; ++k) off[k] += c * g.strides[k][d];
  }
}

// Pack p of x, or W copies of x[0] when x is a broadcast scalar.
template <int W, class T>
__device__ __forceinline__ Pack<T, W> load(const T* x, bool is_scalar, int64_t p) {
  if (!is_scalar) return reinterpret_cast<const Pack<T, W>*>(x)[p];
  Pack<T, W> r;
#pragma unroll
  for (int j = 0; j < W; ++j) r.v[j] = x[0];
  return r;
}

// ---- _v1: any strides -------------------------------------------------------------------------------------
template <class T>
__global__ void fill_v1_kernel(Geometry<1> g, T* out, T value) {
  for (int64_t i = first_index(); i < g.n; i += grid_stride()) {
    int64_t off[1];
    offsets_of(g, i, off);
    out[off[0]] = value;
  }
}

template <class Out, class In, class F>
__global__ void map1_v1_kernel(Geometry<2> g, Out* out, const In* x, F f) {
  for (int64_t i = first_index(); i < g.n; i += grid_stride()) {
    int64_t off[2];
    offsets_of(g, i, off);
    out[off[0]] = f(x[off[1]]);
  }
}

template <class T, class F>
__global__ void map2_v1_kernel(Geometry<3> g, T* out, const T* a, const T* b, F f) {
  for (int64_t i = first_index(); i < g.n; i += grid_stride()) {
    int64_t off[3];
    offsets_of(g, i, off);
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

// ---- _v2: flat operands, packs of W then a scalar tail ----------------------------------------------------
template <int W, class T>
__global__ void fill_v2_kernel(int64_t n, bool vectorised, T* out, T value) {
  const int64_t packs = vectorised ? n / W : 0;
  Pack<T, W> v;
#pragma unroll
  for (int j = 0; j < W; ++j) v.v[j] = value;
  for (int64_t p = first_index(); p < packs; p += grid_stride()) reinterpret_cast<Pack<T, W>*>(out)[p] = v;
  for (int64_t i = packs * W + first_index(); i < n; i += grid_stride()) out[i] = value;
}

template <int W, class Out, class In, class F>
__global__ void map1_v2_kernel(int64_t n, bool vectorised, Out* out, const In* x, bool x_scalar, F f) {
  const int64_t packs = vectorised ? n / W : 0;
  for (int64_t p = first_index(); p < packs; p += grid_stride()) {
    const Pack<In, W> xv = load<W>(x, x_scalar, p);
    Pack<Out, W> y;
#pragma unroll
    for (int j = 0; j < W; ++j) y.v[j] = f(xv.v[j]);
    reinterpret_cast<Pack<Out, W>*>(out)[p] = y;
  }
  for (int64_t i = packs * W + first_index(); i < n; i += grid_stride()) out[i] = f(x[x_scalar ? 0 : i]);
}

template <int W, class T, class F>
__global__ void map2_v2_kernel(int64_t n, bool vectorised, T* out, const T* a, bool a_scalar, const T* b,
                               bool b_scalar, F f) {
  const int64_t packs = vectorised ? n / W : 0;
  for (int64_t p = first_index(); p < packs; p += grid_stride()) {
    const Pack<T, W> av = load<W>(a, a_scalar, p), bv = load<W>(b, b_scalar, p);
    Pack<T, W> y;
#pragma unroll
    for (int j = 0; j < W; ++j) y.v[j] = f(av.v[j], bv.v[j]);
    reinterpret_cast<Pack<T, W>*>(out)[p] = y;
  }
  for (int64_t i = packs * W + first_index(); i < n; i += grid_stride())
    out[i] = f(a[a_scalar ? 0 : i], b[b_scalar ? 0 : i]);
}

// ---- the per-element functions
// ------------------------------------------------------------------------------
template <UnaryOp Op, class T>
struct UnaryFn {
  T c;
  SSL_HD T operator()(T v) const { return ew::unary<Op>(v, c); }
};
template <BinaryOp Op, class T>
struct BinaryFn {
  T c;
  SSL_HD T operator()(T a, T b) const { return ew::binary<Op>(a, b, c); }
};
template <class Src, class Dst>
struct ConvertFn {
  SSL_HD Dst operator()(Src v) const { return static_cast<Dst>(v); }
};

// Calls run(f) with the function object of `op` (one kernel instantiation per op).
template <class T, class Run>
void with_unary(UnaryOp op, T c, Run&& run) {
  switch (op) {
    case UnaryOp::copy:
      return run(UnaryFn<UnaryOp::copy, T>{c});
    case UnaryOp::neg:
      return run(UnaryFn<UnaryOp::neg, T>{c});
    case UnaryOp::exp:
      return run(UnaryFn<UnaryOp::exp, T>{c});
    case UnaryOp::log:
      return run(UnaryFn<UnaryOp::log, T>{c});
    case UnaryOp::sqrt:
      return run(UnaryFn<UnaryOp::sqrt, T>{c});
    case UnaryOp::relu:
      return run(UnaryFn<UnaryOp::relu, T>{c});
    case UnaryOp::leaky_relu:
      return run(UnaryFn<UnaryOp::leaky_relu, T>{c});
    case UnaryOp::tanh:
      return run(UnaryFn<UnaryOp::tanh, T>{c});
    case UnaryOp::sigmoid:
      return run(UnaryFn<UnaryOp::sigmoid, T>{c});
    case UnaryOp::pow:
      return run(UnaryFn<UnaryOp::pow, T>{c});
    case UnaryOp::scale:
      return run(UnaryFn<UnaryOp::scale, T>{c});
    case UnaryOp::add_scalar:
      return run(UnaryFn<UnaryOp::add_scalar, T>{c});
  }
  throw Error("unary: unknown op");
}

template <class T, class Run>
void with_binary(BinaryOp op, T c, Run&& run) {
  switch (op) {
    case BinaryOp::add:
      return run(BinaryFn<BinaryOp::add, T>{c});
    case BinaryOp::sub:
      return run(BinaryFn<BinaryOp::sub, T>{c});
    case BinaryOp::mul:
      return run(BinaryFn<BinaryOp::mul, T>{c});
    case BinaryOp::div:
      return run(BinaryFn<BinaryOp::div, T>{c});
    case BinaryOp::relu_grad:
      return run(BinaryFn<BinaryOp::relu_grad, T>{c});
    case BinaryOp::leaky_relu_grad:
      return run(BinaryFn<BinaryOp::leaky_relu_grad, T>{c});
  }
  throw Error("binary: unknown op");
}

// Resolves `best` and rejects _v2 where it does not apply.
template <int K>
Version choose(const char* op, const Geometry<K>& g, Version v) {
  if (v == Version::best) return flat(g) ? Version::v2 : Version::v1;
  SSL_CHECK(v == Version::v1 || flat(g), op,
            "_v2: every operand must be contiguous (or a broadcast scalar) after merging dims");
  return v;
}

// ---- launchers shared by unary and convert, and by binary ----------------------------------------------
template <class Out, class In, class F>
void run1(const char* op, Version v, int64_t ndim, const int64_t* shape, Strided<const In> x,
          Strided<Out> out, F f) {
  const Geometry<2> g = merge_dims<2>(op, ndim, shape, {out.strides, x.strides});
  if (g.n == 0) return;
  if (choose(op, g, v) == Version::v1) {
    launch(map1_v1_kernel<Out, In, F>, blocks_for(g.n, kThreads), kThreads, 0, g, out.data, x.data, f);
    return;
  }
  constexpr int W = int(16 / (sizeof(Out) > sizeof(In) ? sizeof(Out) : sizeof(In)));
  const bool x_scalar = g.ndim > 0 && scalar(g, 1);
  const bool vectorised = aligned(out.data, sizeof(Out) * W) && (x_scalar || aligned(x.data, sizeof(In) * W));
  launch(map1_v2_kernel<W, Out, In, F>, blocks_for(vectorised ? (g.n + W - 1) / W : g.n, kThreads), kThreads,
         0, g.n, vectorised, out.data, x.data, x_scalar, f);
}

template <class T, class F>
void run2(Version v, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
          Strided<T> out, F f) {
  const Geometry<3> g = merge_dims<3>("binary", ndim, shape, {out.strides, a.strides, b.strides});
  if (g.n == 0) return;
  if (choose("binary", g, v) == Version::v1) {
    launch(map2_v1_kernel<T, F>, blocks_for(g.n, kThreads), kThreads, 0, g, out.data, a.data, b.data, f);
    return;
  }
  constexpr int W = int(16 / sizeof(T));
  const bool a_scalar = g.ndim > 0 && scalar(g, 1), b_scalar = g.ndim > 0 && scalar(g, 2);
  const bool vectorised = aligned(out.data, sizeof(T) * W) && (a_scalar || aligned(a.data, sizeof(T) * W)) &&
                          (b_scalar || aligned(b.data, sizeof(T) * W));
  launch(map2_v2_kernel<W, T, F>, blocks_for(vectorised ? (g.n + W - 1) / W : g.n, kThreads), kThreads, 0,
         g.n, vectorised, out.data, a.data, a_scalar, b.data, b_scalar, f);
}

template <class T>
void run_fill(Version v, int64_t ndim, const int64_t* shape, Strided<T> out, T value) {
  const Geometry<1> g = merge_dims<1>("fill", ndim, shape, {out.strides});
  if (g.n == 0) return;
  if (choose("fill", g, v) == Version::v1) {
    launch(fill_v1_kernel<T>, blocks_for(g.n, kThreads), kThreads, 0, g, out.data, value);
    return;
  }
  constexpr int W = int(16 / sizeof(T));
  const bool vectorised = aligned(out.data, sizeof(T) * W);
  launch(fill_v2_kernel<W, T>, blocks_for(vectorised ? (g.n + W - 1) / W : g.n, kThreads), kThreads, 0, g.n,
         vectorised, out.data, value);
}

template <class T>
void run_unary(Version v, UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
               double param) {
  with_unary<T>(op, T(param), [&](auto f) { run1("unary", v, ndim, shape, x, out, f); });
}

template <class T>
void run_binary(Version v, BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a,
                Strided<const T> b, Strided<T> out, double param) {
  with_binary<T>(op, T(param), [&](auto f) { run2(v, ndim, shape, a, b, out, f); });
}

}  // namespace

// ---- entry points -----------------------------------------------------------------------------------------
template <class T>
void unary(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out, double param) {
  run_unary(Version::best, op, ndim, shape, x, out, param);
}
template <class T>
void unary_v1(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
              double param) {
  run_unary(Version::v1, op, ndim, shape, x, out, param);
}
template <class T>
void unary_v2(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
              double param) {
  run_unary(Version::v2, op, ndim, shape, x, out, param);
}

template <class T>
void binary(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
            Strided<T> out, double param) {
  run_binary(Version::best, op, ndim, shape, a, b, out, param);
}
template <class T>
void binary_v1(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
               Strided<T> out, double param) {
  run_binary(Version::v1, op, ndim, shape, a, b, out, param);
}
template <class T>
void binary_v2(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
               Strided<T> out, double param) {
  run_binary(Version::v2, op, ndim, shape, a, b, out, param);
}

template <class Src, class Dst>
void convert(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out) {
  run1("convert", Version::best, ndim, shape, x, out, ConvertFn<Src, Dst>{});
}
template <class Src, class Dst>
void convert_v1(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out) {
  run1("convert", Version::v1, ndim, shape, x, out, ConvertFn<Src, Dst>{});
}
template <class Src, class Dst>
void convert_v2(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out) {
  run1("convert", Version::v2, ndim, shape, x, out, ConvertFn<Src, Dst>{});
}

template <class T>
void fill(int64_t ndim, const int64_t* shape, Strided<T> out, T value) {
  run_fill(Version::best, ndim, shape, out, value);
}
template <class T>
void fill_v1(int64_t ndim, const int64_t* shape, Strided<T> out, T value) {
  run_fill(Version::v1, ndim, shape, out, value);
}
template <class T>
void fill_v2(int64_t ndim, const int64_t* shape, Strided<T> out, T value) {
  run_fill(Version::v2, ndim, shape, out, value);
}

#define SSL_INSTANTIATE(T)                                                                                   \
  template void unary<T>(UnaryOp, int64_t, const int64_t*, Strided<const T>, Strided<T>, double);            \
  template void unary_v1<T>(UnaryOp, int64_t, const int64_t*, Strided<const T>, Strided<T>, double);         \
  template void unary_v2<T>(UnaryOp, int64_t, const int64_t*, Strided<const T>, Strided<T>, double);         \
  template void binary<T>(BinaryOp, int64_t, const int64_t*, Strided<const T>, Strided<const T>, Strided<T>, \
                          double);                                                                           \
  template void binary_v1<T>(BinaryOp, int64_t, const int64_t*, Strided<const T>, Strided<const T>,          \
                             Strided<T>, double);                                                            \
  template void binary_v2<T>(BinaryOp, int64_t, const int64_t*, Strided<const T>, Strided<const T>,          \
                             Strided<T>, double);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

#define SSL_INSTANTIATE_FILL(T)                                     \
  template void fill<T>(int64_t, const int64_t*, Strided<T>, T);    \
  template void fill_v1<T>(int64_t, const int64_t*, Strided<T>, T); \
  template void fill_v2<T>(int64_t, const int64_t*, Strided<T>, T);
SSL_INSTANTIATE_FILL(float)
SSL_INSTANTIATE_FILL(double)
SSL_INSTANTIATE_FILL(int64_t)
#undef SSL_INSTANTIATE_FILL

// The same conversions as the CPU instantiates.
#define SSL_INSTANTIATE_CONVERT(S, D)                                                    \
  template void convert<S, D>(int64_t, const int64_t*, Strided<const S>, Strided<D>);    \
  template void convert_v1<S, D>(int64_t, const int64_t*, Strided<const S>, Strided<D>); \
  template void convert_v2<S, D>(int64_t, const int64_t*, Strided<const S>, Strided<D>);
SSL_INSTANTIATE_CONVERT(float, float)
SSL_INSTANTIATE_CONVERT(float, double)
SSL_INSTANTIATE_CONVERT(float, int64_t)
SSL_INSTANTIATE_CONVERT(double, float)
SSL_INSTANTIATE_CONVERT(double, double)
SSL_INSTANTIATE_CONVERT(double, int64_t)
SSL_INSTANTIATE_CONVERT(int64_t, float)
SSL_INSTANTIATE_CONVERT(int64_t, double)
SSL_INSTANTIATE_CONVERT(int64_t, int64_t)
#undef SSL_INSTANTIATE_CONVERT

}  // namespace ssl::kernels::SSL_CUDA_NS

// The elementwise kernels on the GPU: the same functions as kernels::cpu in kernels/elementwise.h, on device
// pointers (the shape and stride arrays stay host pointers, as there). Operands are strided as on the CPU:
// strides in elements, aligned to the output's dims, 0 where an operand is broadcast.
//
// Versions (kernels/cuda/elementwise.cu): _v1 computes every element's offsets from its index (any strides);
// _v2 requires every operand to be contiguous or a broadcast scalar after dims are merged, and moves 16 bytes
// per load where the pointers allow. The unsuffixed name takes _v2 when it applies, else _v1.
#pragma once

#include <cstdint>

#include "kernels/cuda/namespace.h"
#include "kernels/elementwise.h"

namespace ssl::kernels::SSL_CUDA_NS {

// Requires: ndim <= 8 (else ssl::Error), shape[ndim] >= 0, every strided operand addressing device memory
// that holds all of its elements; `out` may alias an input only with the same strides (in place).
// Ensures: out = op(x) elementwise, as kernels::cpu::unary (queued on stream(), no host synchronisation).
template <class T>
void unary(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
           double param = 0);
template <class T>
void unary_v1(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
              double param = 0);
// Requires in addition that x and out are contiguous or x a broadcast scalar (else ssl::Error).
template <class T>
void unary_v2(UnaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> x, Strided<T> out,
              double param = 0);

// Ensures: out = op(a, b) elementwise, as kernels::cpu::binary. Requirements as for unary.
template <class T>
void binary(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
            Strided<T> out, double param = 0);
template <class T>
void binary_v1(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
               Strided<T> out, double param = 0);
template <class T>
void binary_v2(BinaryOp op, int64_t ndim, const int64_t* shape, Strided<const T> a, Strided<const T> b,
               Strided<T> out, double param = 0);

// Ensures: out = static_cast<Dst>(x) elementwise (Src, Dst each float, double or int64_t).
template <class Src, class Dst>
void convert(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out);
template <class Src, class Dst>
void convert_v1(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out);
template <class Src, class Dst>
void convert_v2(int64_t ndim, const int64_t* shape, Strided<const Src> x, Strided<Dst> out);

// Ensures: every element of out = value (T float, double or int64_t).
template <class T>
void fill(int64_t ndim, const int64_t* shape, Strided<T> out, T value);
template <class T>
void fill_v1(int64_t ndim, const int64_t* shape, Strided<T> out, T value);
template <class T>
void fill_v2(int64_t ndim, const int64_t* shape, Strided<T> out, T value);

}  // namespace ssl::kernels::SSL_CUDA_NS

// Small helpers shared by the op implementations: argument checks and the views kernels expect.
#pragma once

#include <initializer_list>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "kernels/conv.h"
#include "kernels/device_memory.h"
#include "kernels/elementwise.h"

namespace ssl::detail {

// The buffers a backward fills, one per input: a fresh tensor of shapes[i] (with `like`'s dtype and device)
// where needs[i], an undefined one where that input wants no gradient.
inline std::vector<Tensor> gradient_buffers(const Tensor& like, const std::vector<Shape>& shapes,
                                            const std::vector<bool>& needs) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < shapes.size(); ++i)
    out.push_back(needs[i] ? Tensor::empty(shapes[i], like.dtype(), like.device()) : Tensor());
  return out;
}

// A kernel's pointer to an optional tensor: null when the tensor is undefined.
template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* ptr_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Every input defined and all on one device.
inline void check_inputs(const char* op, std::initializer_list<Tensor> ts) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    SSL_CHECK(t.defined(), op, ": an input is undefined");
    if (!first) first = &t;
    SSL_CHECK(t.device() == first->device(), op, ": inputs are on different devices (", first->device().str(),
              " and ", t.device().str(), ")");
  }
}

// The one visible device switch of an op: runs `cpu()` for CPU tensors, and `cuda()` on the tensors' GPU
// for CUDA tensors. A build without the CUDA backend has no CUDA tensors (allocating one throws), and there
// the `cuda` call is never compiled into the program, so it may name kernels::cuda functions freely.
template <class CpuCall, class CudaCall>
void on_device(Device device, CpuCall&& cpu, CudaCall&& cuda) {
  switch (device.type) {
    case DeviceType::cpu:
      cpu();
      return;
    case DeviceType::cuda:
#if SSL_WITH_CUDA
      kernels::cuda::set_device(device.index);
      cuda();
      return;
#else
      (void)cuda;
      throw Error("this build has no CUDA backend (configure with -DSSL_CUDA=ON on a machine with nvcc)");
#endif
  }
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  SSL_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", dtype_name(a.dtype()), " and ",
            dtype_name(b.dtype()), ")");
}

// The strides that make `t` read as if it had `out_shape` (0 on broadcast dims).
inline Shape broadcast_strides(const Tensor& t, const Shape& out_shape) {
  Shape st(out_shape.size(), 0);
  const size_t lead = out_shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) st[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

template <class T>
kernels::Strided<const T> in(const Tensor& t, const Shape& strides) {
  return {t.data<T>(), strides.data()};
}
template <class T>
kernels::Strided<T> out(const Tensor& t) {
  return {t.data<T>(), t.strides().data()};
}

// The kernels' description of conv2d(x, w, bias, a) (core/ops/conv.cpp), once the arguments pass conv2d's
// checks; otherwise throws conv2d's error.
kernels::Conv2dShape conv2d_shape(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dArgs a);

// conv2d (core/ops/conv.cpp); with `moments`, also each output plane's moments, [2, n, c_out] in double
// (kernels/conv.h, conv2d_forward), for batch norm (core/ops/norm.cpp, conv2d_batch_norm_relu).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dArgs a,
              std::vector<double>* moments);

}  // namespace ssl::detail

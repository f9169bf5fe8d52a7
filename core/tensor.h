// Tensor: a cheap handle (a shared pointer) to a view of a Storage: shape, strides and offset in elements,
// dtype and device. Copying a Tensor copies the handle, not the data. Views share storage.
//
// Autograd state lives on the same object: `requires_grad`, the accumulated `grad`, and `grad_fn`, the node
// of the op that produced it (null for leaves). See core/autograd.h.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/shape.h"
#include "core/storage.h"

namespace ssl {

struct Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient; leaves only (intermediates keep none)
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor; null for leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (contiguous, fresh storage) ----------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A CPU tensor in page-locked memory: copies from it to a GPU run at full bus speed (needs CUDA).
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::i64, Device device = Device::cpu());
  // Copies `values` (host memory) into a new tensor of the given shape.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
  // Random tensors, reproducible from the generator's seed whatever the thread count.
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen = default_generator(),
                        DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen = default_generator(),
                       DType dtype = DType::f32, Device device = Device::cpu());

  // ---- metadata ------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked_impl().shape; }
  const Shape& strides() const { return checked_impl().strides; }
  int64_t dim() const { return int64_t(checked_impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(checked_impl().shape); }
  int64_t offset() const { return checked_impl().offset; }
  DType dtype() const { return checked_impl().dtype; }
  Device device() const { return checked_impl().storage->device(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return checked_impl().storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_as(const Tensor& o) const { return impl_ == o.impl_; }

  // Pointer to the first element (storage + offset). Checks that T matches the dtype.
  template <class T>
  T* data() const;
  void* raw_data() const;

  // ---- values --------------------------------------------------------------------------------------
  double item() const;  // the value of a one-element tensor
  template <class T>
  std::vector<T> to_vector() const;  // all elements in logical (row-major) order, on the host
  Tensor to(Device device) const;    // a copy on another device (or *this); not differentiable
  // Moves this tensor's data to `device` in place: every handle to it (a module's field, an optimizer's
  // list) follows. For leaves only (parameters, buffers); any gradient is dropped.
  Tensor& to_(Device device);
  Tensor to(DType dtype) const;  // a converted copy (or *this); not differentiable
  Tensor clone() const;          // a contiguous copy; differentiable
  Tensor contiguous() const;     // *this if contiguous, else a contiguous copy; differentiable

  // In-place writes, outside autograd (initialisers, optimizers). They throw on a tensor that requires grad
  // while grad mode is on, and count as a write to its storage (Storage::version): a backward formula that
  // saved values from that storage before the write then refuses to run (core/autograd.h).
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // same shape (or broadcastable), any dtype/device

  // ---- autograd ------------------------------------------------------------------------------------
  bool requires_grad() const { return checked_impl().requires_grad; }
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const { return Tensor(checked_impl().grad); }
  // Installs `g` (or clears the gradient when it is undefined); it must match this tensor's shape, dtype and
  // device, as a gradient backward accumulates would.
  void set_grad(const Tensor& g);
  void zero_grad() { checked_impl().grad.reset(); }  // drops the gradient; the next backward starts afresh
  const std::shared_ptr<Node>& grad_fn() const { return checked_impl().grad_fn; }
  bool is_leaf() const { return checked_impl().grad_fn == nullptr; }
  Tensor detach() const;  // same storage, no history
  // Back-propagates from this tensor. A non-scalar needs `grad` (d loss / d this). The graph is freed
  // afterwards unless retain_graph is set.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  // ---- views (differentiable, share storage) --------------------------------------------------------
  Tensor reshape(
      const Shape& shape) const;  // a view of a contiguous tensor, else of a copy; one dim may be -1
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // slice of width 1, dim removed
  Tensor expand(const Shape& shape) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;

 private:
  // What every accessor reads through: an undefined tensor (default-constructed, or the grad() of a tensor
  // no backward pass reached) is an ssl::Error saying so, not a null dereference.
  TensorImpl& checked_impl() const {
    if (!impl_) throw_undefined();
    return *impl_;
  }
  [[noreturn]] static void throw_undefined();

  std::shared_ptr<TensorImpl> impl_;
};

// A view of `base`'s storage with the given geometry, sharing nothing else (no autograd history). Throws
// ssl::Error unless every element it names lies inside the storage (strides >= 0, offset >= 0).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace ssl

#include "core/tensor.h"

#include <cmath>
#include <iomanip>
#include <ostream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/elementwise.h"

namespace ssl {

namespace {

// The bytes a tensor of `shape` takes. A product past 2^63 is refused: wrapped around, it would allocate a
// few bytes that the kernels then write far beyond.
size_t storage_bytes(const Shape& shape, DType dtype) {
  for (int64_t d : shape) SSL_CHECK(d >= 0, "tensor: negative dimension in shape ", shape);
  int64_t bytes = 0;
  SSL_CHECK(!__builtin_mul_overflow(numel_of(shape), int64_t(dtype_size(dtype)), &bytes), "tensor: shape ",
            shape, " of ", dtype, " would take more than 2^63 - 1 bytes");
  return size_t(bytes);
}

std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dtype, Device device, bool pinned = false) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(storage_bytes(shape, dtype), device, pinned);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

// Reading an undefined tensor dereferences nothing: say so, and what usually causes it.
[[noreturn]] void throw_undefined_in(const char* op) {
  throw Error(str_cat(
      op, ": the tensor is undefined (a default-constructed Tensor, or the grad() of a ",
      "tensor that has had no backward pass reach it or that is not a leaf: only leaves keep a gradient)"));
}

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw_undefined_in(op);
}

// An in-place write's destination: defined, not a tensor autograd needs, and no two elements in one place (an
// expanded view, whose elements the kernels' threads would write at once).
void check_writable(const Tensor& t, const char* op) {
  check_defined(t, op);
  SSL_CHECK(!(t.requires_grad() && grad_enabled()), op, ": in-place write to a tensor that requires grad; ",
            "wrap it in NoGradGuard");
  for (int64_t d = 0; d < t.dim() && t.numel() > 0; ++d)  // (an empty tensor's strides may be 0 anywhere)
    SSL_CHECK(t.stride(d) != 0 || t.size(d) == 1, op, ": the destination ", t.shape(),
              " has stride 0 along dim ", d,
              " (an expanded view: its elements overlap); write into a tensor of its own");
}

}  // namespace

void Tensor::throw_undefined() { throw_undefined_in("reading a tensor's shape, dtype, device or gradient"); }

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}
void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

// ---- creation -------------------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(new_impl(shape, dtype, device));
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  return Tensor(new_impl(shape, dtype, Device::cpu(), /*pinned=*/true));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype);
  dispatch_all(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = T(i);
  });
  return t.to(device);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  SSL_CHECK(int64_t(values.size()) == numel_of(shape), "from_vector: ", values.size(), " values for shape ",
            shape, " (", numel_of(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype, Device device) {
  Tensor t = empty(shape, dtype);
  const uint64_t seed = gen.seed(), stream = gen.take_stream();
  dispatch_floating(dtype, "uniform", [&]<class T>() {
    T* p = t.data<T>();
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {  // element i uses the i-th 128-bit block of the stream
      const rng::Bits128 b = rng::philox4x32(seed, uint64_t(i), stream);
      p[i] = T(lo + (hi - lo) * rng::uniform01_open(b.v[0], b.v[1]));
    }
  });
  return t.to(device);
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype,
                      Device device) {
  Tensor t = empty(shape, dtype);
  const uint64_t seed = gen.seed(), stream = gen.take_stream();
  dispatch_floating(dtype, "normal", [&]<class T>() {
    T* p = t.data<T>();
    const int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {  // Box-Muller on two uniforms of element i's block
      const rng::Bits128 b = rng::philox4x32(seed, uint64_t(i), stream);
      const double u1 = rng::uniform01_open(b.v[0], b.v[1]), u2 = rng::uniform01_open(b.v[2], b.v[3]);
      p[i] = T(mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
    }
  });
  return t.to(device);
}

// ---- metadata -------------------------------------------------------------------------------------------

void Tensor::set_grad(const Tensor& g) {
  TensorImpl& impl = checked_impl();
  if (g.defined())
    SSL_CHECK(g.shape() == impl.shape && g.dtype() == impl.dtype && g.device() == device(),
              "set_grad: a gradient of shape ", g.shape(), ", ", g.dtype(), " on ", g.device(),
              " for a tensor of shape ", impl.shape, ", ", impl.dtype, " on ", device());
  impl.grad = g.impl_;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t i = wrap_dim(d, dim(), "size");  // first: dim() refuses an undefined tensor
  return impl_->shape[i];
}
int64_t Tensor::stride(int64_t d) const {
  const int64_t i = wrap_dim(d, dim(), "stride");
  return impl_->strides[i];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  SSL_CHECK(defined(), "data: undefined tensor");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(dtype_size(impl_->dtype));
}

template <class T>
T* Tensor::data() const {
  SSL_CHECK(defined() && dtype() == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">: tensor holds ",
            defined() ? dtype_name(dtype()) : "nothing");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;

// ---- values ---------------------------------------------------------------------------------------------

double Tensor::item() const {
  check_defined(*this, "item");
  SSL_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return dispatch_all(dtype(), [&]<class T>() { return double(to_vector<T>()[0]); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined(*this, "to_vector");
  Tensor host = to(Device::cpu()).to(dtype_of<T>()).contiguous();
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

Tensor Tensor::to(Device device) const {
  check_defined(*this, "to");
  if (device == this->device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), device);
  copy_bytes(out.raw_data(), device, src.raw_data(), src.device(), size_t(numel()) * dtype_size(dtype()));
  return out;
}

Tensor& Tensor::to_(Device device) {
  check_defined(*this, "to_");
  SSL_CHECK(is_leaf(), "to_: only leaf tensors (parameters, buffers) can move in place");
  if (device == this->device()) return *this;
  const Tensor moved = to(device);
  impl_->storage = moved.storage();
  impl_->strides = moved.strides();
  impl_->offset = 0;
  impl_->grad.reset();
  return *this;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to");
  if (dtype == this->dtype()) return *this;
  Tensor out = empty(shape(), dtype, device());
  out.copy_(*this);
  return out;
}

Tensor& Tensor::fill_(double value) {
  check_writable(*this, "fill_");
  // 2^63 is exact in a double; NaN fails both comparisons.
  SSL_CHECK(dtype() != DType::i64 || (value >= -0x1p63 && value < 0x1p63), "fill_: ", value,
            " cannot be converted to int64 without overflow");
  dispatch_all(dtype(), [&]<class T>() {
    const kernels::Strided<T> out{data<T>(), strides().data()};
    detail::on_device(
        device(), [&] { kernels::cpu::fill<T>(dim(), shape().data(), out, T(value)); },
        [&] { kernels::cuda::fill<T>(dim(), shape().data(), out, T(value)); });
  });
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src_in) {
  check_writable(*this, "copy_");
  check_defined(src_in, "copy_ (source)");
  Tensor src = src_in.to(device());
  // The kernel reads and writes element by element: a source in the destination's storage (x.copy_(x.t()))
  // is read from a copy of it.
  if (src.storage() == storage()) src = src.detach().clone();
  SSL_CHECK(broadcasts_to(src.shape(), shape()), "copy_: the source's shape ", src.shape(),
            " does not broadcast to the destination's ", shape());
  src = src.expand(shape());  // broadcasting (a no-op view when the shapes match)
  dispatch_all(src.dtype(), [&]<class S>() {
    dispatch_all(dtype(), [&]<class D>() {
      const kernels::Strided<const S> from{src.data<S>(), src.strides().data()};
      const kernels::Strided<D> to{data<D>(), strides().data()};
      detail::on_device(
          device(), [&] { kernels::cpu::convert<S, D>(dim(), shape().data(), from, to); },
          [&] { kernels::cuda::convert<S, D>(dim(), shape().data(), from, to); });
    });
  });
  storage()->bump_version();
  return *this;
}

// ---- autograd -------------------------------------------------------------------------------------------

Tensor& Tensor::set_requires_grad(bool on) {
  SSL_CHECK(!on || dtype() != DType::i64, "requires_grad: only floating tensors can require gradients");
  SSL_CHECK(is_leaf() || on, "requires_grad: cannot turn it off on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  run_backward(*this, grad, retain_graph);
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  SSL_CHECK(shape.size() == strides.size(), "make_view: shape ", shape, " and strides ", strides,
            " differ in length");
  if (numel_of(shape) > 0) {  // numel_of refuses a count past 2^63 - 1
    // The last element's position, in 128 bits: sizes and strides of 2^62 must not wrap around to a small
    // one.
    __int128 last = offset;
    bool in_range = offset >= 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      in_range &= strides[i] >= 0;
      last += __int128(shape[i] - 1) * strides[i];
    }
    const __int128 elements = __int128(base.storage()->nbytes() / dtype_size(base.dtype()));
    SSL_CHECK(in_range && last < elements, "make_view: shape ", shape, ", strides ", strides, " and offset ",
              offset, " reach past the storage's ", int64_t(elements), " elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// ---- printing -------------------------------------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << str_cat(t.shape()) << ", " << dtype_name(t.dtype()) << ", " << t.device().str();
  if (t.requires_grad()) os << ", requires_grad";
  os << ", values=[";
  const std::vector<double> v = t.to_vector<double>();
  const size_t shown = std::min<size_t>(v.size(), 8);
  for (size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << std::setprecision(5) << v[i];
  if (v.size() > shown) os << ", ...";
  return os << "])";
}

}  // namespace ssl

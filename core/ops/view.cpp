// Views: new shapes and strides over the same storage. Each backward maps the gradient back to the
// input's geometry.
#include <algorithm>
#include <numeric>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace ssl {

namespace {
Shape resolve_reshape(const Shape& in, Shape shape) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      SSL_CHECK(infer < 0, "reshape: only one dim may be -1 in ", shape);
      infer = int64_t(i);
    } else {
      SSL_CHECK(shape[i] >= 0, "reshape: sizes must be at least 0 (or -1, inferred), got ", shape);
      SSL_CHECK(!__builtin_mul_overflow(known, shape[i], &known), "reshape: ", shape,
                " has more than 2^63 - 1 elements");
    }
  }
  if (infer >= 0) {
    SSL_CHECK(known > 0 && numel_of(in) % known == 0, "reshape: cannot reshape ", in, " into ", shape);
    shape[infer] = numel_of(in) / known;
  }
  SSL_CHECK(numel_of(shape) == numel_of(in), "reshape: cannot reshape ", in, " (", numel_of(in),
            " elements) into ", shape);
  return shape;
}

// A view of x with a dimension of size 1 added or removed (`shape`, `strides`); the gradient takes x's shape
// back.
Tensor size_one_view(const char* op, const Tensor& x, const Shape& shape, const Shape& strides) {
  Tensor y = make_view(x, shape, strides, x.offset());
  return record(op, y, {x}, [in_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    return std::vector{g.reshape(in_shape)};
  });
}
}  // namespace

Tensor Tensor::contiguous() const {
  SSL_CHECK(defined(), "contiguous: the tensor is undefined");
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  detail::check_inputs("clone", {*this});
  Tensor y = empty(shape(), dtype(), device());
  {
    NoGradGuard g;
    y.copy_(*this);
  }
  return record("clone", y, {*this},
                [](const Tensor& g, const std::vector<bool>&) { return std::vector{g}; });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  const Shape shape = resolve_reshape(this->shape(), shape_in);
  if (shape == this->shape()) return *this;
  const Tensor src = contiguous();
  const Shape in_shape = this->shape();
  Tensor y = make_view(src, shape, contiguous_strides(shape), src.offset());
  return record("reshape", y, {src}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector{g.reshape(in_shape)};
  });
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  SSL_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim,
            " of a ", shape(), " tensor");
  Shape s(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) merged *= shape()[i];
  s.push_back(merged);
  s.insert(s.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::permute(const Shape& dims) const {
  SSL_CHECK(int64_t(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a tensor of shape ",
            shape());
  Shape shape(dims.size()), strides(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    SSL_CHECK(!seen[d], "permute: dim ", d, " repeated in ", dims);
    seen[d] = true;
    shape[i] = this->shape()[d];
    strides[i] = this->strides()[d];
    inverse[d] = int64_t(i);
  }
  Tensor y = make_view(*this, shape, strides, offset());
  return record("permute", y, {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
    return std::vector{g.permute(inverse)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Shape dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(d0, dim(), "transpose")], dims[wrap_dim(d1, dim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::slice(int64_t d, int64_t start_in, int64_t end_in, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  const int64_t n = shape()[d];
  const int64_t start = start_in < 0 ? start_in + n : start_in;
  const int64_t end = std::min(end_in < 0 ? end_in + n : end_in, n);
  SSL_CHECK(step >= 1 && start >= 0 && start <= end, "slice: bad range [", start_in, ", ", end_in, ") step ",
            step, " for dim ", d, " of size ", n);
  Shape shape = this->shape(), strides = this->strides();
  shape[d] = end > start ? (end - start - 1) / step + 1 : 0;  // not end - start + step - 1: it can overflow
  strides[d] *= step;
  Tensor y = make_view(*this, shape, strides, offset() + start * this->strides()[d]);
  const Shape in_shape = this->shape();
  const DType dtype = this->dtype();
  return record("slice", y, {*this}, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = Tensor::zeros(in_shape, dtype, g.device());
    gx.slice(d, start, end, step).copy_(g);
    return std::vector{gx};
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  if (index < 0) index += shape()[d];
  SSL_CHECK(index >= 0 && index < shape()[d], "select: index ", index, " out of range for dim ", d,
            " of size ", shape()[d]);
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
  if (shape == this->shape()) return *this;
  for (const int64_t size : shape) {
    SSL_CHECK(size >= 0, "expand: sizes must be at least 0, got ", shape);
  }
  SSL_CHECK(broadcasts_to(this->shape(), shape), "expand: cannot expand ", this->shape(), " to ", shape);
  Tensor y = make_view(*this, shape, detail::broadcast_strides(*this, shape), offset());
  const Shape in_shape = this->shape();
  return record("expand", y, {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector{sum_to(g, in_shape)};
  });
}

// Inserting or removing a dimension of size 1 changes no element's address: both are views with the
// strides of the other dimensions kept, even of a non-contiguous tensor (so writes through them land).
Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shape = this->shape(), strides = this->strides();
  // Any stride serves a dimension of size 1; this one is what a contiguous tensor would have.
  const int64_t stride = d < dim() ? strides[d] * shape[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return size_one_view("unsqueeze", *this, shape, strides);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  SSL_CHECK(shape()[d] == 1, "squeeze: dim ", d, " has size ", shape()[d], ", not 1");
  Shape shape = this->shape(), strides = this->strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return size_one_view("squeeze", *this, shape, strides);
}

}  // namespace ssl

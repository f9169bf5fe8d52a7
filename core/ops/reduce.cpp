// Reductions. Every one becomes a reduction over the middle axis of a contiguous [outer, r, inner] view
// (kernels/reduce.h); dims that are not adjacent are first moved to the end.
#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/reduce.h"
#include "kernels/reduce.h"

namespace ssl {

namespace {

Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < int64_t(in.size()); ++i) {
    const bool reduced = std::find(dims.begin(), dims.end(), i) != dims.end();
    if (!reduced)
      out.push_back(in[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

std::vector<int64_t> normalise_dims(const char* op, std::vector<int64_t> dims, int64_t ndim) {
  for (int64_t& d : dims) d = wrap_dim(d, ndim, op);
  std::sort(dims.begin(), dims.end());
  SSL_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), op, ": a dim is repeated");
  return dims;
}

// The sum without autograd.
Tensor sum_forward(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor x = x_in;
  int64_t outer = 1, r = 1, inner = 1;
  const bool adjacent = dims.back() - dims.front() + 1 == int64_t(dims.size());
  if (!adjacent) {  // move the reduced dims to the end
    Shape perm;
    for (int64_t i = 0; i < x.dim(); ++i)
      if (std::find(dims.begin(), dims.end(), i) == dims.end()) perm.push_back(i);
    perm.insert(perm.end(), dims.begin(), dims.end());
    x = x.permute(perm);
    for (int64_t i = 0; i < x.dim(); ++i) (i < x.dim() - int64_t(dims.size()) ? outer : r) *= x.size(i);
  } else {
    for (int64_t i = 0; i < x.dim(); ++i)
      (i < dims.front() ? outer : i <= dims.back() ? r : inner) *= x.size(i);
  }
  x = x.contiguous();
  Tensor y = Tensor::empty(reduced_shape(x_in.shape(), dims, keepdim), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "sum", [&]<class T>() {
    detail::on_device(
        x.device(), [&] { kernels::cpu::sum_middle<T>(outer, r, inner, x.data<T>(), y.data<T>()); },
        [&] { kernels::cuda::sum_middle<T>(outer, r, inner, x.data<T>(), y.data<T>()); });
  });
  return y;
}

}  // namespace

// d sum(x) = g broadcast back over the reduced dims
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  detail::check_inputs("sum", {x});
  const std::vector<int64_t> dims = normalise_dims("sum", dims_in, x.dim());
  if (dims.empty()) return x.clone();
  Tensor y;
  {
    NoGradGuard no_grad;
    y = sum_forward(x, dims, keepdim);
  }
  const Shape kept = reduced_shape(x.shape(), dims, true);
  return record("sum", y, {x}, [kept, in_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    return std::vector{g.reshape(kept).expand(in_shape)};
  });
}

Tensor sum(const Tensor& x) {
  std::vector<int64_t> all(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) all[i] = i;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const std::vector<int64_t> dims = normalise_dims("mean", dims_in, x.dim());
  int64_t count = 1;
  for (int64_t d : dims) count *= x.size(d);
  SSL_CHECK(count > 0, "mean: reducing over an empty dim of ", x.shape());
  return mul(sum(x, dims, keepdim), 1.0 / double(count));
}

Tensor mean(const Tensor& x) {
  std::vector<int64_t> all(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) all[i] = i;
  return mean(x, all, false);
}

namespace {
struct MaxResult {
  Tensor values, indices;
  int64_t outer, r, inner;
};
MaxResult max_forward(const Tensor& x_in, int64_t dim, bool keepdim) {
  detail::check_inputs("max", {x_in});
  dim = wrap_dim(dim, x_in.dim(), "max");
  SSL_CHECK(x_in.size(dim) > 0, "max: dim ", dim, " of ", x_in.shape(), " is empty");
  Tensor x = x_in.detach().contiguous();
  MaxResult m{Tensor(), Tensor(), 1, x.size(dim), 1};
  for (int64_t i = 0; i < dim; ++i) m.outer *= x.size(i);
  for (int64_t i = dim + 1; i < x.dim(); ++i) m.inner *= x.size(i);
  const Shape shape = reduced_shape(x.shape(), {dim}, keepdim);
  m.values = Tensor::empty(shape, x.dtype(), x.device());
  m.indices = Tensor::empty(shape, DType::i64, x.device());
  dispatch_floating(x.dtype(), "max", [&]<class T>() {
    T* values = m.values.data<T>();
    int64_t* indices = m.indices.data<int64_t>();
    detail::on_device(
        x.device(), [&] { kernels::cpu::max_middle<T>(m.outer, m.r, m.inner, x.data<T>(), values, indices); },
        [&] { kernels::cuda::max_middle<T>(m.outer, m.r, m.inner, x.data<T>(), values, indices); });
  });
  return m;
}
}  // namespace

// d max(x) = g at the position of the maximum, 0 elsewhere
Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  const MaxResult r = max_forward(x, dim, keepdim);
  // The closure keeps the indices but not the values (the output itself, which would make a cycle).
  MaxResult m{Tensor(), r.indices, r.outer, r.r, r.inner};
  return record("max", r.values, {x},
                [m, in_shape = x.shape()](const Tensor& g_in, const std::vector<bool>&) {
                  const Tensor g = g_in.contiguous();
                  Tensor gx = Tensor::empty(in_shape, g.dtype(), g.device());
                  dispatch_floating(g.dtype(), "max_backward", [&]<class T>() {
                    const int64_t* indices = m.indices.data<int64_t>();
                    detail::on_device(
                        g.device(),
                        [&] {
                          kernels::cpu::max_middle_backward<T>(m.outer, m.r, m.inner, g.data<T>(), indices,
                                                               gx.data<T>());
                        },
                        [&] {
                          kernels::cuda::max_middle_backward<T>(m.outer, m.r, m.inner, g.data<T>(), indices,
                                                                gx.data<T>());
                        });
                  });
                  return std::vector{gx};
                });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max_forward(x, dim, keepdim).indices; }

int64_t first_non_finite(const Tensor& x) {
  if (x.dtype() == DType::i64) return -1;
  const std::vector<double> values = x.detach().to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return int64_t(i);
  return -1;
}

}  // namespace ssl

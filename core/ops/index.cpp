// Joining and indexing: cat, stack, index_select, gather. Their backwards route the gradient back to the
// positions the values came from.
#include "kernels/cuda/index.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/index.h"

namespace ssl {

// d cat = the slices of g that each input filled
Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  SSL_CHECK(!xs.empty(), "cat: no tensors given");
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (const Tensor& x : xs) {
    detail::check_inputs("cat", {first, x});
    detail::check_same_dtype("cat", first, x);
    bool ok = x.dim() == first.dim();
    for (int64_t d = 0; ok && d < x.dim(); ++d) ok = d == dim || x.size(d) == first.size(d);
    SSL_CHECK(ok, "cat: shapes ", first.shape(), " and ", x.shape(), " differ outside dim ", dim);
    shape[dim] += x.size(dim);
  }
  Tensor y = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<int64_t> starts;
  {
    NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor& x : xs) {
      starts.push_back(offset);
      y.slice(dim, offset, offset + x.size(dim)).copy_(x);
      offset += x.size(dim);
    }
  }
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.size(dim));
  return record("cat", y, xs, [dim, starts, sizes](const Tensor& g, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(starts.size());
    for (size_t i = 0; i < starts.size(); ++i)
      if (needs[i]) grads[i] = g.slice(dim, starts[i], starts[i] + sizes[i]);
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  SSL_CHECK(!xs.empty(), "stack: no tensors given");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& x : xs) {
    SSL_CHECK(x.shape() == xs[0].shape(), "stack: shapes ", xs[0].shape(), " and ", x.shape(), " differ");
    expanded.push_back(x.unsqueeze(dim));
  }
  return cat(expanded, dim);
}

namespace {
struct MiddleView {
  int64_t outer = 1, size, inner = 1;
};
MiddleView middle(const Shape& s, int64_t dim) {
  MiddleView m{1, s[dim], 1};
  for (int64_t d = 0; d < dim; ++d) m.outer *= s[d];
  for (int64_t d = dim + 1; d < int64_t(s.size()); ++d) m.inner *= s[d];
  return m;
}
void check_index_tensor(const char* op, const Tensor& index) {
  SSL_CHECK(index.defined() && index.dtype() == DType::i64, op, ": expected an int64 index tensor, got ",
            index.defined() ? dtype_name(index.dtype()) : "nothing");
}
}  // namespace

// d index_select = g added back at the selected positions (index_add)
Tensor index_select(const Tensor& x_in, int64_t dim, const Tensor& index_in) {
  detail::check_inputs("index_select", {x_in, index_in});
  check_index_tensor("index_select", index_in);
  SSL_CHECK(index_in.dim() == 1, "index_select: expected a 1-D index, got shape ", index_in.shape());
  dim = wrap_dim(dim, x_in.dim(), "index_select");
  const Tensor x = x_in.detach().contiguous(), index = index_in.contiguous();
  const MiddleView m = middle(x.shape(), dim);
  Shape shape = x.shape();
  shape[dim] = index.numel();
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  dispatch_all(x.dtype(), [&]<class T>() {
    const int64_t* idx = index.data<int64_t>();
    detail::on_device(
        x.device(),
        [&] {
          kernels::cpu::index_select<T>(m.outer, m.size, m.inner, x.data<T>(), index.numel(), idx,
                                        y.data<T>());
        },
        [&] {
          kernels::cuda::index_select<T>(m.outer, m.size, m.inner, x.data<T>(), index.numel(), idx,
                                         y.data<T>());
        });
  });
  const Shape x_shape = x.shape();  // all the backward needs of x: keep it, not x
  return record("index_select", y, {x_in}, {index}, [=](const Tensor& g_in, const std::vector<bool>&) {
    const Tensor g = g_in.contiguous();
    Tensor gx = Tensor::zeros(x_shape, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "index_select_backward", [&]<class T>() {
      const int64_t* idx = index.data<int64_t>();
      detail::on_device(
          g.device(),
          [&] {
            kernels::cpu::index_add<T>(m.outer, m.size, m.inner, gx.data<T>(), index.numel(), idx,
                                       g.data<T>());
          },
          [&] {
            kernels::cuda::index_add<T>(m.outer, m.size, m.inner, gx.data<T>(), index.numel(), idx,
                                        g.data<T>());
          });
    });
    return std::vector{gx};
  });
}

// d gather = g scattered back (scatter_add)
Tensor gather(const Tensor& x_in, int64_t dim, const Tensor& index_in) {
  detail::check_inputs("gather", {x_in, index_in});
  check_index_tensor("gather", index_in);
  dim = wrap_dim(dim, x_in.dim(), "gather");
  bool ok = index_in.dim() == x_in.dim();
  for (int64_t d = 0; ok && d < x_in.dim(); ++d) ok = d == dim || index_in.size(d) == x_in.size(d);
  SSL_CHECK(ok, "gather: index of shape ", index_in.shape(), " must match x of shape ", x_in.shape(),
            " outside dim ", dim);
  const Tensor x = x_in.detach().contiguous(), index = index_in.contiguous();
  Tensor y = Tensor::empty(index.shape(), x.dtype(), x.device());
  dispatch_all(x.dtype(), [&]<class T>() {
    const int64_t* idx = index.data<int64_t>();
    detail::on_device(
        x.device(),
        [&] {
          kernels::cpu::gather<T>(index.dim(), index.shape().data(), dim, x.size(dim), x.data<T>(), idx,
                                  y.data<T>());
        },
        [&] {
          kernels::cuda::gather<T>(index.dim(), index.shape().data(), dim, x.size(dim), x.data<T>(), idx,
                                   y.data<T>());
        });
  });
  const Shape x_shape = x.shape();  // all the backward needs of x: keep it, not x
  return record("gather", y, {x_in}, {index}, [=](const Tensor& g_in, const std::vector<bool>&) {
    const Tensor g = g_in.contiguous();
    Tensor gx = Tensor::zeros(x_shape, g.dtype(), g.device());
    dispatch_floating(g.dtype(), "gather_backward", [&]<class T>() {
      const int64_t* idx = index.data<int64_t>();
      detail::on_device(
          g.device(),
          [&] {
            kernels::cpu::scatter_add<T>(index.dim(), index.shape().data(), dim, x_shape[size_t(dim)],
                                         gx.data<T>(), idx, g.data<T>());
          },
          [&] {
            kernels::cuda::scatter_add<T>(index.dim(), index.shape().data(), dim, x_shape[size_t(dim)],
                                          gx.data<T>(), idx, g.data<T>());
          });
    });
    return std::vector{gx};
  });
}

}  // namespace ssl

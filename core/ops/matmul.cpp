// Matrix products. A row-major matrix view whose rows or columns are contiguous goes to the GEMM as it is
// (a transposed view is just "trans = true"), so the backward's transposes cost no copies.
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/cuda/library.h"
#include "kernels/gemm.h"

namespace ssl {

namespace {

// How a 2-D (or batched, last two dims) view is handed to the GEMM.
struct GemmOperand {
  Tensor t;    // possibly a contiguous copy
  bool trans;  // stored transposed
  int64_t ld;  // row stride as stored
};

GemmOperand as_gemm_operand(const Tensor& x) {
  const int64_t d = x.dim();
  if (x.stride(d - 1) == 1 && x.stride(d - 2) >= std::max<int64_t>(1, x.size(d - 1)))
    return {x, false, x.stride(d - 2)};
  if (x.stride(d - 2) == 1 && x.stride(d - 1) >= std::max<int64_t>(1, x.size(d - 2)))
    return {x, true, x.stride(d - 1)};
  Tensor c = x.contiguous();
  return {c, false, std::max<int64_t>(1, c.size(d - 1))};
}

// y[b] = a[b] @ bm[b] (+ bias broadcast over rows) for 2-D or equal-batch 3-D operands; no autograd.
Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in, const Tensor& bias = Tensor(),
                      bool b_transposed = false) {
  const GemmOperand a = as_gemm_operand(a_in.detach());
  const GemmOperand b = as_gemm_operand(b_in.detach());
  const bool batched = a_in.dim() == 3;
  const int64_t batch = batched ? a_in.size(0) : 1;
  const int64_t m = a_in.size(-2), k = a_in.size(-1);
  const int64_t n = b_transposed ? b_in.size(-2) : b_in.size(-1);
  Shape shape = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor y = Tensor::empty(shape, a_in.dtype(), a_in.device());
  dispatch_floating(a_in.dtype(), "matmul", [&]<class T>() {
    T* yp = y.data<T>();
    T beta = T(0);
    if (bias.defined()) {  // start from the bias rows, then accumulate the product onto them
      const Tensor bc = bias.detach().contiguous();
      const T* bp = bc.data<T>();
      detail::on_device(
          y.device(),
          [&] {
            for (int64_t r = 0; r < batch * m; ++r) std::copy(bp, bp + n, yp + r * n);
          },
          [&] {  // the rows of y = ones[batch·m, 1] @ bias[1, n], a rank-one GEMM
            const Tensor ones = Tensor::ones({batch * m}, y.dtype(), y.device());
            kernels::cuda::gemm<T>(false, false, batch * m, n, 1, T(1), ones.data<T>(), 1, bp, n, T(0), yp,
                                   n);
          });
      beta = T(1);
    }
    for (int64_t i = 0; i < batch; ++i) {
      const T* ap = a.t.data<T>() + (batched ? i * a.t.stride(0) : 0);
      const T* bp = b.t.data<T>() + (batched ? i * b.t.stride(0) : 0);
      const bool trans_b = b.trans != b_transposed;
      detail::on_device(
          y.device(),
          [&] {
            kernels::cpu::gemm<T>(a.trans, trans_b, m, n, k, T(1), ap, a.ld, bp, b.ld, beta, yp + i * m * n,
                                  n);
          },
          [&] {
            kernels::cuda::gemm<T>(a.trans, trans_b, m, n, k, T(1), ap, a.ld, bp, b.ld, beta, yp + i * m * n,
                                   n);
          });
    }
  });
  return y;
}

}  // namespace

// d(a @ b) = (g @ bᵀ, aᵀ @ g)
Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_inputs("matmul", {a, b});
  detail::check_same_dtype("matmul", a, b);
  SSL_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected matrices, got shapes ", a.shape(), " and ",
            b.shape());
  SSL_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape());
  if (a.dim() > 2 && b.dim() == 2) {  // [..., M, K] @ [K, N]: fold the leading dims into M
    Shape out = a.shape();
    out.back() = b.size(1);
    return matmul(a.flatten(0, -2), b).reshape(out);
  }
  SSL_CHECK((a.dim() == 2 && b.dim() == 2) || (a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0)),
            "matmul: expected [M,K]@[K,N], [...,M,K]@[K,N] or [B,M,K]@[B,K,N], got ", a.shape(), " and ",
            b.shape());
  Tensor y = matmul_forward(a, b);
  return record("matmul", y, {a, b}, {a, b}, [a, b](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector{needs[0] ? matmul(g, b.transpose(-1, -2)) : Tensor(),
                       needs[1] ? matmul(a.transpose(-1, -2), g) : Tensor()};
  });
}

// y = x wᵀ + bias: d = (g w, gᵀ x, Σ_rows g)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  detail::check_inputs("linear", {x, w});
  detail::check_same_dtype("linear", x, w);
  SSL_CHECK(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1),
            "linear: expected x [N, in] and w [out, in], got ", x.shape(), " and ", w.shape());
  if (bias.defined()) {
    detail::check_inputs("linear", {x, bias});  // a bias on another device
    detail::check_same_dtype("linear", x, bias);
    SSL_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "linear: bias of shape ", bias.shape(), " for ",
              w.size(0), " outputs");
  }
  Tensor y = matmul_forward(x, w, bias, /*b_transposed=*/true);
  return record("linear", y, {x, w, bias}, {x, w}, [x, w](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector{needs[0] ? matmul(g, w) : Tensor(), needs[1] ? matmul(g.t(), x) : Tensor(),
                       needs[2] ? sum(g, {0}) : Tensor()};
  });
}

}  // namespace ssl

// The NT-Xent loss of SimCLR as one fused op (kernels/ntxent.h has the math and the tiling).
#include "kernels/cuda/ntxent.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"
#include "kernels/ntxent.h"

namespace ssl {

// d ntxent, with P_i anchor i's softmax over its candidates: G = g (P − onehot(positive)) / 2N,
// dzn = (G + Gᵀ) zn / τ, dz_i = (dzn_i − zn_i (zn_i · dzn_i)) / max(‖z_i‖, ε) (kernels/cpu/ntxent.cpp's top
// comment derives it and the tiling that computes it). The CPU kernel takes g by value; the CUDA kernel reads
// it where it lies, on the device, so that a step never waits for the GPU.
Tensor ntxent(const Tensor& z_in, double temperature, bool cross_view_only) {
  detail::check_inputs("ntxent", {z_in});
  SSL_CHECK(z_in.dim() == 2 && z_in.size(0) >= 2 && z_in.size(0) % 2 == 0,
            "ntxent: expected projections [2N, d] (two views of N images), got ", z_in.shape());
  SSL_CHECK(temperature > 0, "ntxent: temperature must be > 0, got ", temperature);
  const Tensor z = z_in.detach().contiguous();
  const int64_t two_n = z.size(0), d = z.size(1);
  const kernels::NtXentShape s{two_n, d, cross_view_only};
  // What the backward reads: the normalised rows, their inverse norms and each anchor's log-sum-exp.
  Tensor zn = Tensor::empty({two_n, d}, z.dtype(), z.device());
  Tensor inv_norm = Tensor::empty({two_n}, z.dtype(), z.device());
  Tensor lse = Tensor::empty({two_n}, z.dtype(), z.device());
  Tensor loss = Tensor::empty({}, z.dtype(), z.device());
  dispatch_floating(z.dtype(), "ntxent", [&]<class T>() {
    kernels::NtXentSaved<T> saved{zn.data<T>(), inv_norm.data<T>(), lse.data<T>()};
    detail::on_device(
        z.device(),
        [&] { *loss.data<T>() = kernels::cpu::ntxent_forward<T>(s, z.data<T>(), T(temperature), saved); },
        [&] { kernels::cuda::ntxent_forward<T>(s, z.data<T>(), T(temperature), saved, loss.data<T>()); });
  });
  return record("ntxent", loss, {z_in}, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor gz = Tensor::empty({two_n, d}, zn.dtype(), zn.device());
    dispatch_floating(zn.dtype(), "ntxent_backward", [&]<class T>() {
      kernels::NtXentSaved<const T> saved{zn.data<T>(), inv_norm.data<T>(), lse.data<T>()};
      detail::on_device(
          zn.device(),
          [&] { kernels::cpu::ntxent_backward<T>(s, T(temperature), saved, T(g.item()), gz.data<T>()); },
          [&] {
            const Tensor gc = g.contiguous();
            kernels::cuda::ntxent_backward<T>(s, T(temperature), saved, gc.data<T>(), gz.data<T>());
          });
    });
    return std::vector{gz};
  });
}

}  // namespace ssl

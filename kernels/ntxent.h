// NT-Xent, SimCLR's contrastive loss, as one fused kernel (forward and backward).
//
// Input z [2N, d], row-major: rows 0..N-1 are the first view of images 0..N-1, rows N..2N-1 the second view.
// Each row is L2-normalised (zn_i = z_i / max(||z_i||, 1e-12)) and compared with every other row,
//   s_ij = zn_i . zn_j / temperature.
// The positive of anchor i is its other view p(i) = i + N (or i - N); every other candidate is a negative:
//   loss = 1/(2N) * sum_i [ log sum_{j in C(i)} exp(s_ij)  -  s_{i,p(i)} ].
// Default: C(i) = all j != i (the self-similarity is excluded, as if s_ii = -inf; it is not 0).
// cross_view_only: C(i) = the rows of the other view (N candidates, the positive among them); this is the
// variant of the Keras SimCLR example. Both average over all 2N anchors.
//
// The 2N x 2N similarity matrix is never stored: see kernels/cpu/ntxent.cpp for the tiling.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "core/error.h"
#include "kernels/common/host_device.h"

namespace ssl::kernels {

struct NtXentShape {
  int64_t two_n;  // number of rows of z: 2N (two views of N images)
  int64_t d;      // embedding width
  bool cross_view_only = false;
};

// The workspace the forward fills and the backward reads (so the backward need not re-normalise):
//   zn [2N, d]     the normalised rows
//   inv_norm [2N]  1 / max(||z_i||, 1e-12)
//   lse [2N]       log sum_{j in C(i)} exp(s_ij), each anchor's log-sum-exp
// The backward takes NtXentSaved<const T>; as_const() gives that view of a filled workspace.
template <class T>
struct NtXentSaved {
  T* zn;
  T* inv_norm;
  T* lse;

  NtXentSaved<const T> as_const() const { return {zn, inv_norm, lse}; }
};

// What the CPU and CUDA kernels share: the clamp of the norm, who is whose positive and candidate, and the
// checks of the arguments.
constexpr double kNtXentNormEps = 1e-12;  // zn = z / max(||z||, 1e-12)

// The other view of the same image (n = N images, rows 0..N-1 the first view).
SSL_HD int64_t ntxent_positive(int64_t i, int64_t n) { return i < n ? i + n : i - n; }

// Whether row j is a candidate of anchor i: any other row, or (cross_view_only) any row of the other view.
SSL_HD bool ntxent_is_candidate(int64_t i, int64_t j, int64_t n, bool cross_view_only) {
  return cross_view_only ? (i < n) != (j < n) : i != j;
}

// Throws ssl::Error, naming `who`, unless two_n is even and >= 2, d >= 1, the temperature positive and
// finite, and no pointer null.
inline void check_ntxent_args(const NtXentShape& s, double temperature,
                              std::initializer_list<const void*> pointers, const char* who) {
  SSL_CHECK(s.two_n >= 2 && s.two_n % 2 == 0, who,
            ": two_n must be even and >= 2 (two views of N images), got ", s.two_n);
  SSL_CHECK(s.d >= 1, who, ": embedding width d must be >= 1, got ", s.d);
  SSL_CHECK(temperature > 0 && std::isfinite(temperature), who, ": temperature must be > 0 and finite, got ",
            temperature);
  for (const void* p : pointers) SSL_CHECK(p != nullptr, who, ": null pointer among the arguments");
}

namespace cpu {

using ssl::kernels::NtXentSaved;
using ssl::kernels::NtXentShape;

// Requires: two_n even and >= 2, d >= 1, temperature > 0 (and finite), non-null pointers,
//           otherwise throws ssl::Error; z [two_n, d] (need not be normalised).
// Ensures:  returns the mean loss over the 2N anchors; saved.zn, saved.inv_norm and saved.lse are fully
// written. Deterministic for a given number of OpenMP threads.
template <class T>
T ntxent_forward(const NtXentShape& s, const T* z, T temperature, NtXentSaved<T> saved);

// Gradient of grad_loss * loss with respect to z, from the workspace of the forward on the same z,
// shape and temperature (only read). gz [two_n, d] is OVERWRITTEN, not accumulated into.
// Deterministic for a given number of OpenMP threads.
template <class T>
void ntxent_backward(const NtXentShape& s, T temperature, NtXentSaved<const T> saved, T grad_loss, T* gz);

}  // namespace cpu
}  // namespace ssl::kernels

// The direct-loop convolution kernels that conv2d_forward/backward (kernels/conv.h) run for
// ConvAlgorithm::direct. Same contracts as those; the shape is checked by the caller.
#pragma once

#include "kernels/conv.h"

namespace ssl::kernels::cpu {

// moments: as conv2d_forward's, or nullptr.
template <class T>
void conv2d_forward_direct(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y,
                           double* moments);

template <class T>
void conv2d_backward_direct(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb);

}  // namespace ssl::kernels::cpu

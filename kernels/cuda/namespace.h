// The namespace of the CUDA kernels' host-side entry points, for headers that declare them: kernels/cuda/*.cu
// are compiled by nvcc into ssl::kernels::cuda and, for CI without a GPU, by the host compiler against the
// SIMT emulation into ssl::kernels::cuda_emulated (see kernels/cuda/api.h).
#pragma once

#ifdef SSL_SIMT_EMULATION
#define SSL_CUDA_NS cuda_emulated
#else
#define SSL_CUDA_NS cuda
#endif

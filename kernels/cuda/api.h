// What host code needs to talk to the CUDA backend: the runtime API, the checked-call macro and the namespace
// of the kernels' launchers.
//
// The hand-written kernels (kernels/cuda/*.cu) are compiled twice: by nvcc for the GPU, into
// ssl::kernels::cuda, and by the host compiler against the SIMT emulation (kernels/cuda/simt/simt.h, with
// SSL_SIMT_EMULATION defined), into ssl::kernels::cuda_emulated, so that CI runs the same kernel source
// without a GPU. SSL_CUDA_NS (namespace.h) names the namespace of the build at hand; both can link into one
// program.
#pragma once

#include "kernels/cuda/namespace.h"
#ifdef SSL_SIMT_EMULATION
#include "kernels/cuda/simt/simt.h"
#else
#include <cuda_runtime.h>
#endif

#include "core/error.h"

// Every CUDA runtime call is checked; a failure becomes an ssl::Error naming the call, file and line.
#define SSL_CUDA_CHECK(call)                                                                                 \
  do {                                                                                                       \
    const cudaError_t ssl_cuda_status = (call);                                                              \
    if (ssl_cuda_status != cudaSuccess)                                                                      \
      throw ::ssl::Error(::ssl::str_cat("CUDA error '", cudaGetErrorString(ssl_cuda_status), "' in ", #call, \
                                        " at ", __FILE__, ":", __LINE__));                                   \
  } while (0)

namespace ssl::kernels::SSL_CUDA_NS {

// The stream every kernel of the current device is launched on (one per device, created on first use; the
// emulation has one null stream). Copies between the host and the device go on it too, so work on one device
// stays in order without device-wide synchronisation.
cudaStream_t stream();

}  // namespace ssl::kernels::SSL_CUDA_NS

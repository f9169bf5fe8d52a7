// Every CUDA runtime call is checked; a failure becomes an ssl::Error naming the call, file and line.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

#define SSL_CUDA_CHECK(call)                                                                                 \
  do {                                                                                                       \
    const cudaError_t ssl_cuda_status = (call);                                                              \
    if (ssl_cuda_status != cudaSuccess)                                                                      \
      throw ::ssl::Error(::ssl::str_cat("CUDA error '", cudaGetErrorString(ssl_cuda_status), "' in ", #call, \
                                        " at ", __FILE__, ":", __LINE__));                                   \
  } while (0)

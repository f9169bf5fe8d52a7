// SSL_HD marks functions that are compiled for both the CPU and the GPU, so both sides run the same math.
#pragma once

#if defined(__CUDACC__)
#define SSL_HD __host__ __device__ __forceinline__
#else
#define SSL_HD inline
#endif

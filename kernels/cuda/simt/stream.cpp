// The emulation has one stream, the null stream: every call runs synchronously.
#include "kernels/cuda/api.h"

namespace ssl::kernels::cuda_emulated {

cudaStream_t stream() { return nullptr; }

}  // namespace ssl::kernels::cuda_emulated

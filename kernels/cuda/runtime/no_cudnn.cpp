// The convolution entry points of a CUDA build without cuDNN: each says what is missing.
#include "core/error.h"
#include "kernels/cuda/library.h"

namespace ssl::kernels::cuda {

namespace {
[[noreturn]] void no_cudnn(const char* what) {
  throw Error(
      str_cat(what, ": this build found no cuDNN (install it and reconfigure) to run convolutions on CUDA"));
}
}  // namespace

bool cudnn_is_built() { return false; }
template <class T>
void conv2d_forward(const Conv2dShape&, const T*, const T*, const T*, T*) {
  no_cudnn("conv2d");
}
template <class T>
void conv2d_backward(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*) {
  no_cudnn("conv2d backward");
}
template <class T>
void conv_transpose2d_forward(const ConvTranspose2dShape&, const T*, const T*, const T*, T*) {
  no_cudnn("conv_transpose2d");
}
template <class T>
void conv_transpose2d_backward(const ConvTranspose2dShape&, const T*, const T*, const T*, T*, T*, T*) {
  no_cudnn("conv_transpose2d backward");
}
#define SSL_INSTANTIATE(T)                                                                                  \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);                    \
  template void conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);           \
  template void conv_transpose2d_forward<T>(const ConvTranspose2dShape&, const T*, const T*, const T*, T*); \
  template void conv_transpose2d_backward<T>(const ConvTranspose2dShape&, const T*, const T*, const T*, T*, \
                                             T*, T*);
SSL_INSTANTIATE(float)
SSL_INSTANTIATE(double)
#undef SSL_INSTANTIATE

}  // namespace ssl::kernels::cuda

// Convolutions through cuDNN (kernels/cuda/library.h): descriptors for NCHW tensors, and for each shape and
// direction the algorithm cuDNN's heuristics rank first among the deterministic ones whose workspace fits,
// cached. The workspace comes from the caching allocator, so it costs no cudaMalloc after the first step.
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "kernels/cuda/api.h"
#include "kernels/cuda/library.h"
#include "kernels/device_memory.h"

#define SSL_CUDNN_CHECK(call)                                                                          \
  do {                                                                                                 \
    const cudnnStatus_t ssl_cudnn_status = (call);                                                     \
    if (ssl_cudnn_status != CUDNN_STATUS_SUCCESS)                                                      \
      throw ::ssl::Error(::ssl::str_cat("cuDNN error ", cudnnGetErrorString(ssl_cudnn_status), " in ", \
                                        #call, " at ", __FILE__, ":", __LINE__));                      \
  } while (0)

namespace ssl::kernels::cuda {

bool cudnn_is_built() { return true; }

namespace {

constexpr size_t kWorkspaceLimit = size_t(1) << 30;

cudnnHandle_t handle(int device) {
  static std::mutex mu;
  static std::map<int, cudnnHandle_t> handles;  // kept for the life of the process
  std::lock_guard<std::mutex> lock(mu);
  cudnnHandle_t& h = handles[device];
  if (!h) {
    // Kept only once bound to the stream: a handle left on the default stream would race this one's work.
    cudnnHandle_t created = nullptr;
    SSL_CUDNN_CHECK(cudnnCreate(&created));
    try {
      SSL_CUDNN_CHECK(cudnnSetStream(created, stream()));
    } catch (...) {
      cudnnDestroy(created);
      throw;
    }
    h = created;
  }
  return h;
}

template <class T>
cudnnDataType_t data_type() {
  return sizeof(T) == 4 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

// One cuDNN descriptor, created with the object and destroyed with it, so that a call that throws in between
// leaks nothing. Converts to the descriptor for the cuDNN calls.
template <class D, cudnnStatus_t (*Create)(D*), cudnnStatus_t (*Destroy)(D)>
struct Descriptor {
  D d = nullptr;
  Descriptor() { SSL_CUDNN_CHECK(Create(&d)); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { Destroy(d); }
  operator D() const { return d; }
};
using TensorDescriptor =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                         cudnnDestroyConvolutionDescriptor>;

// The descriptors of one convolution: input x [n, c_in, h, w], filter [c_out, c_in/groups, kh, kw], output
// y [n, c_out, out_h, out_w], its bias [1, c_out, 1, 1], and bias_x [1, c_in, 1, 1], the bias of the
// transposed convolution (whose output is x).
struct ConvDescriptors {
  TensorDescriptor x, y, bias, bias_x;
  FilterDescriptor w;
  ConvolutionDescriptor conv;

  template <class T>
  ConvDescriptors(const Conv2dShape& s, T*) {
    // The descriptors take int sizes, and cuDNN limits a tensor to 2 giga-elements: a larger one would be
    // cut short or refused with a status that does not say why.
    const int64_t largest = std::max({s.n * s.c_in * s.h * s.w, s.n * s.c_out * s.out_h() * s.out_w(),
                                      s.c_out * (s.c_in / s.groups) * s.kh * s.kw});
    SSL_CHECK(largest <= int64_t(INT_MAX), "convolution on CUDA: a tensor of ", largest,
              " elements is more than cuDNN addresses (", INT_MAX, ")");
    const cudnnDataType_t t = data_type<T>();
    SSL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, t, int(s.n), int(s.c_in), int(s.h), int(s.w)));
    SSL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, t, int(s.n), int(s.c_out),
                                               int(s.out_h()), int(s.out_w())));
    SSL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, t, 1, int(s.c_out), 1, 1));
    SSL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias_x, CUDNN_TENSOR_NCHW, t, 1, int(s.c_in), 1, 1));
    SSL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, t, CUDNN_TENSOR_NCHW, int(s.c_out), int(s.c_in / s.groups),
                                               int(s.kh), int(s.kw)));
    SSL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, int(s.pad_h), int(s.pad_w), int(s.stride_h),
                                                    int(s.stride_w), 1, 1, CUDNN_CROSS_CORRELATION, t));
    SSL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, int(s.groups)));
    // FP32 stays FP32 unless TF32 is allowed, as for the GEMM.
    SSL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
};

enum class Direction { forward, backward_data, backward_filter };

using ShapeKey = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                            int64_t, int64_t, int64_t, int64_t, size_t, bool>;

ShapeKey key_of(Direction d, int device, const Conv2dShape& s, size_t elem, bool tf32) {
  return {int(d), device,     s.n,        s.c_in,  s.h,     s.w,      s.c_out, s.kh,
          s.kw,   s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.groups, elem,    tf32};
}

// The first algorithm in cuDNN's ranking that succeeds within the workspace limit and is deterministic (some
// backward algorithms add with atomics, so that two runs of the same step differ in the last bits; every
// other reduction here has a fixed order), else the first that succeeds at all; -1 when none does.
template <class Perf>
int first_usable(const std::vector<Perf>& perf, int found) {
  int fallback = -1;
  for (int i = 0; i < found; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kWorkspaceLimit) continue;
    if (perf[i].determinism == CUDNN_DETERMINISTIC) return int(perf[i].algo);
    if (fallback < 0) fallback = int(perf[i].algo);
  }
  return fallback;
}

// The algorithm of one direction for this shape (first_usable of cuDNN's heuristic ranking), remembered for
// the next call with the same shape.
int choose_algorithm(Direction d, const Conv2dShape& s, size_t elem, const ConvDescriptors& desc,
                     int device) {
  static std::mutex mu;
  static std::map<ShapeKey, int> cache;
  const ShapeKey key = key_of(d, device, s, elem, allow_tf32());
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  cudnnHandle_t h = handle(device);
  int found = 0, chosen = -1;
  if (d == Direction::forward) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    SSL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, desc.x, desc.w, desc.conv, desc.y,
                                                           int(perf.size()), &found, perf.data()));
    chosen = first_usable(perf, found);
  } else if (d == Direction::backward_data) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    SSL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, desc.w, desc.y, desc.conv, desc.x,
                                                                int(perf.size()), &found, perf.data()));
    chosen = first_usable(perf, found);
  } else {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    SSL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, desc.x, desc.y, desc.conv, desc.w,
                                                                  int(perf.size()), &found, perf.data()));
    chosen = first_usable(perf, found);
  }
  SSL_CHECK(chosen >= 0, "cuDNN: no convolution algorithm for this shape within ", kWorkspaceLimit >> 20,
            " MiB of workspace");
  std::lock_guard<std::mutex> lock(mu);
  cache[key] = chosen;
  return chosen;
}

// Scratch memory from the caching allocator for one call.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  Workspace(size_t n, int dev) : bytes(n), device(dev) {
    if (n) ptr = device_malloc(n, dev);
  }
  ~Workspace() { device_free(ptr, device); }
};

int current_device() {
  int device = 0;
  SSL_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int device = current_device();
  cudnnHandle_t h = handle(device);
  ConvDescriptors desc(s, static_cast<T*>(nullptr));
  const auto algo =
      cudnnConvolutionFwdAlgo_t(choose_algorithm(Direction::forward, s, sizeof(T), desc, device));
  size_t bytes = 0;
  SSL_CUDNN_CHECK(
      cudnnGetConvolutionForwardWorkspaceSize(h, desc.x, desc.w, desc.conv, desc.y, algo, &bytes));
  Workspace ws(bytes, device);
  const T one = 1, zero = 0;
  SSL_CUDNN_CHECK(cudnnConvolutionForward(h, &one, desc.x, x, desc.w, w, desc.conv, algo, ws.ptr, ws.bytes,
                                          &zero, desc.y, y));
  if (bias) SSL_CUDNN_CHECK(cudnnAddTensor(h, &one, desc.bias, bias, &one, desc.y, y));
}

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const int device = current_device();
  cudnnHandle_t h = handle(device);
  ConvDescriptors desc(s, static_cast<T*>(nullptr));
  const T one = 1, zero = 0;
  if (gx) {
    const auto algo =
        cudnnConvolutionBwdDataAlgo_t(choose_algorithm(Direction::backward_data, s, sizeof(T), desc, device));
    size_t bytes = 0;
    SSL_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataWorkspaceSize(h, desc.w, desc.y, desc.conv, desc.x, algo, &bytes));
    Workspace ws(bytes, device);
    SSL_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, desc.w, w, desc.y, gy, desc.conv, algo, ws.ptr,
                                                 ws.bytes, &zero, desc.x, gx));
  }
  if (gw) {
    const auto algo = cudnnConvolutionBwdFilterAlgo_t(
        choose_algorithm(Direction::backward_filter, s, sizeof(T), desc, device));
    size_t bytes = 0;
    SSL_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterWorkspaceSize(h, desc.x, desc.y, desc.conv, desc.w, algo, &bytes));
    Workspace ws(bytes, device);
    SSL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, desc.x, x, desc.y, gy, desc.conv, algo, ws.ptr,
                                                   ws.bytes, &zero, desc.w, gw));
  }
  if (gb) SSL_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, desc.y, gy, &zero, desc.bias, gb));
}

namespace {
// The convolution whose backward-data is this transposed convolution: its input is the transposed
// convolution's output (c_out channels, out_h × out_w) and its output the transposed convolution's input.
Conv2dShape as_convolution(const ConvTranspose2dShape& t) {
  Conv2dShape s{t.n, t.c_out, t.out_h(), t.out_w(), t.c_in, t.kh, t.kw};
  s.stride_h = t.stride_h;
  s.stride_w = t.stride_w;
  s.pad_h = t.pad_h;
  s.pad_w = t.pad_w;
  s.groups = t.groups;
  return s;
}
}  // namespace

// The transposed convolution's weight [c_in, c_out/groups, kh, kw] is the convolution's filter
// [c_out', c_in'/groups, kh, kw] with c_out' = t.c_in: the same memory, no rearrangement.
template <class T>
void conv_transpose2d_forward(const ConvTranspose2dShape& t, const T* x, const T* w, const T* bias, T* y) {
  const Conv2dShape s = as_convolution(t);
  const int device = current_device();
  cudnnHandle_t h = handle(device);
  ConvDescriptors desc(s, static_cast<T*>(nullptr));
  const auto algo =
      cudnnConvolutionBwdDataAlgo_t(choose_algorithm(Direction::backward_data, s, sizeof(T), desc, device));
  size_t bytes = 0;
  SSL_CUDNN_CHECK(
      cudnnGetConvolutionBackwardDataWorkspaceSize(h, desc.w, desc.y, desc.conv, desc.x, algo, &bytes));
  Workspace ws(bytes, device);
  const T one = 1, zero = 0;
  SSL_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, desc.w, w, desc.y, x, desc.conv, algo, ws.ptr,
                                               ws.bytes, &zero, desc.x, y));
  // The bias is per channel of the transposed convolution's output, i.e. of the convolution's input.
  if (bias) SSL_CUDNN_CHECK(cudnnAddTensor(h, &one, desc.bias_x, bias, &one, desc.x, y));
}

template <class T>
void conv_transpose2d_backward(const ConvTranspose2dShape& t, const T* x, const T* w, const T* gy, T* gx,
                               T* gw, T* gb) {
  const Conv2dShape s = as_convolution(t);
  const int device = current_device();
  cudnnHandle_t h = handle(device);
  ConvDescriptors desc(s, static_cast<T*>(nullptr));
  const T one = 1, zero = 0;
  if (gx) conv2d_forward<T>(s, gy, w, nullptr, gx);  // the adjoint of backward-data is the convolution
  if (gw) {
    // dL/dw of y = conv_backward_data(w, x): the convolution's filter gradient with gy as its input and x as
    // its output gradient.
    const auto algo = cudnnConvolutionBwdFilterAlgo_t(
        choose_algorithm(Direction::backward_filter, s, sizeof(T), desc, device));
    size_t bytes = 0;
    SSL_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterWorkspaceSize(h, desc.x, desc.y, desc.conv, desc.w, algo, &bytes));
    Workspace ws(bytes, device);
    SSL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, desc.x, gy, desc.y, x, desc.conv, algo, ws.ptr,
                                                   ws.bytes, &zero, desc.w, gw));
  }
  if (gb) SSL_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, desc.x, gy, &zero, desc.bias_x, gb));
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

// NumPy's .npy format (version 1.0), for handing arrays to the tools users already have (NumPy,
// scikit-learn, UMAP): the magic "\x93NUMPY", the version, a little-endian header length, a Python-dict
// header {'descr': '<f4', 'fortran_order': False, 'shape': (N, F), } padded with spaces to a multiple of 64
// bytes and ended by '\n', then the raw little-endian data in C order.
#pragma once

#include <string>

#include "core/tensor.h"

namespace ssl {

// The .npy file's bytes for a float32, float64 or int64 tensor (made contiguous first).
std::string npy_bytes(const Tensor& t);

// Writes `t` to `path`, which must end in .npy, atomically (nn::write_file_atomically), creating the parent
// directory.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace ssl

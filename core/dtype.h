// Element types a tensor can hold. float32 is the working type; float64 exists for gradient checks;
// int64 holds labels and indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace ssl {

enum class DType : uint8_t { f32, f64, i64 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i64:
      return 8;
  }
  return 0;
}

inline std::string dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::i64:
      return "int64";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}

// Calls fn.template operator()<T>() with T the C++ type of a floating dtype: the one place where a
// runtime dtype becomes a compile-time type. `op` names the caller in the error.
template <class Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::f32:
      return fn.template operator()<float>();
    case DType::f64:
      return fn.template operator()<double>();
    default:
      break;
  }
  throw Error(str_cat(op, ": expected a floating tensor (float32 or float64), got ", dtype_name(t)));
}

// Like dispatch_floating, for every dtype (copies, indexing, printing).
template <class Fn>
decltype(auto) dispatch_all(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32:
      return fn.template operator()<float>();
    case DType::f64:
      return fn.template operator()<double>();
    case DType::i64:
      return fn.template operator()<int64_t>();
  }
  throw Error("unknown dtype");
}

}  // namespace ssl

// Where a tensor's memory lives.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace ssl {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  // Parses "cpu", "cuda" or "cuda:N"; throws ssl::Error otherwise.
  static Device parse(const std::string& text);
  // parse(), then checks that the device is there: a CUDA device needs the CUDA backend built and a GPU
  // with that index (ssl::Error saying which is missing). For the commands' --device flags.
  static Device parse_present(const std::string& text);
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace ssl

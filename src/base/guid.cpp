#include "base/guid.hpp"

#include <sys/random.h>

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace bgcopy {

JobId JobId::generate() {
  std::array<std::uint8_t, 16> b{};
  std::size_t got = 0;
  while (got < b.size()) {
    ssize_t n = getrandom(b.data() + got, b.size() - got, 0);
    if (n < 0) {
      // getrandom only fails on EINTR once the pool is initialised; retry.
      continue;
    }
    got += static_cast<std::size_t>(n);
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  return JobId(b);
}

std::optional<JobId> JobId::parse(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  if (text.size() != 36) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> b{};
  std::size_t bi = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return std::nullopt;
      }
      ++i;
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(text[i]);
    int lo = hex(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    b[bi++] = static_cast<std::uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return JobId(b);
}

std::string JobId::to_string() const {
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
      bytes_[0], bytes_[1], bytes_[2], bytes_[3], bytes_[4], bytes_[5], bytes_[6], bytes_[7],
      bytes_[8], bytes_[9], bytes_[10], bytes_[11], bytes_[12], bytes_[13], bytes_[14], bytes_[15]);
  return buf;
}

bool JobId::is_nil() const {
  for (auto v : bytes_) {
    if (v != 0) return false;
  }
  return true;
}

}  // namespace bgcopy

// Incremental SHA-256 (OpenSSL EVP) with the context owned by RAII.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace bgcopy::transfer {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  /// False if OpenSSL failed (then the digest is empty).
  bool ok() const { return ok_; }
  void update(const void* data, std::size_t size);
  /// Lower-case hex; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  bool ok_ = false;
};

/// Lower-case hex SHA-256 of a buffer (tests and small data).
std::string sha256_hex(std::string_view data);

}  // namespace bgcopy::transfer

// Errors as values: every failure carries an HRESULT code, a BITS error context, a human message
// and, when it concerns one file of a job, that file's index.
#pragma once

#include <bgcopy/codes.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace bgcopy {

struct Error {
  Hresult code = hr::EFail;
  ErrorContext context = ErrorContext::None;
  std::string message;
  std::optional<std::uint32_t> file_index;

  static Error make(Hresult code, std::string message,
                    ErrorContext context = ErrorContext::GeneralQueueManager) {
    return Error{code, context, std::move(message), std::nullopt};
  }
  /// A local I/O failure: code 0xC0D00000 + errno, context LOCAL_FILE.
  static Error from_errno(int err, std::string what);

  friend bool operator==(const Error&, const Error&) = default;
};

/// Minimal expected-like result; std::expected arrives with C++23.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace bgcopy

/// Propagates an error from an expression yielding a Result.
#define BGCOPY_TRY(expr)                       \
  do {                                         \
    auto bgcopy_try_r_ = (expr);               \
    if (!bgcopy_try_r_.ok()) {                 \
      return std::move(bgcopy_try_r_).error(); \
    }                                          \
  } while (0)

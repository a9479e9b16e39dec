// Results of the client library: every call answers a Status (an HRESULT-style code and a
// human message) or a Result<T> (a Status plus, on success, a value). The library never throws
// across its boundary.
//
// Success is decided by the code, not by its being zero: BG_S_PARTIAL_COMPLETE and
// BG_S_UNABLE_TO_DELETE_FILES are successes that say something happened. Callers test ok()
// and read code() when the difference matters.
//
// These types live in the inline namespace bgcopy::v0, the ABI version of the client API;
// callers spell them bgcopy::Status and bgcopy::Result<T>.
#pragma once

#include <bgcopy/codes.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace bgcopy {
inline namespace v0 {

/// An outcome without a value. Cheap to copy; a plain value with no shared state, so
/// thread-safe in the way an int is.
class [[nodiscard]] Status {
 public:
  /// S_OK with no message.
  Status() noexcept = default;
  /// Any code, success or failure, with an optional human message.
  explicit Status(Hresult code, std::string message = {}) noexcept
      : code_(code), message_(std::move(message)) {}

  /// True for every success code (S_OK, S_FALSE, BG_S_*): the high bit is clear.
  bool ok() const noexcept { return succeeded(code_); }
  explicit operator bool() const noexcept { return ok(); }

  Hresult code() const noexcept { return code_; }
  /// What went wrong, in words, as the service or the library said it. May be empty.
  const std::string& message() const noexcept { return message_; }

  /// "DO_E_INVALID_STATE" (see hresult_name).
  std::string name() const { return hresult_name(code_); }
  /// "0x80D02013".
  std::string hex() const { return hresult_hex(code_); }
  /// "0x80D02013 DO_E_INVALID_STATE: <message>"; without ": <message>" when it is empty.
  std::string to_string() const {
    std::string out = hresult_hex(code_);
    out += ' ';
    out += hresult_name(code_);
    if (!message_.empty()) {
      out += ": ";
      out += message_;
    }
    return out;
  }

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Hresult code_ = hr::SOk;
  std::string message_;
};

/// A Status and, when it is a success, a value of type T.
///
/// Invariant: has a value exactly when status().ok(). Reading the value of a failed Result is
/// a programming error and aborts the process (the library does not throw); test ok() first.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "use Status directly");

 public:
  /// Success with S_OK.
  // NOLINTNEXTLINE(google-explicit-constructor): `return value;` is the point
  Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(value)) {}
  /// Success with a particular success code (S_FALSE, BG_S_*). A failure code here is turned
  /// into E_FAIL with the value dropped, so the invariant holds.
  Result(T value, Status success) : status_(std::move(success)) {
    if (status_.ok()) {
      value_.emplace(std::move(value));
    } else {
      status_ = Status(hr::EFail, "internal error: a failure code was given a value");
    }
  }
  /// Failure. A success Status here (no value to go with it) becomes E_FAIL.
  Result(Status error)  // NOLINT(google-explicit-constructor)
      : status_(std::move(error)) {
    if (status_.ok()) {
      status_ = Status(hr::EFail, "internal error: a success code without a value");
    }
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  const Status& status() const& noexcept { return status_; }
  Status status() && noexcept { return std::move(status_); }
  Hresult code() const noexcept { return status_.code(); }
  const std::string& message() const noexcept { return status_.message(); }

  /// Precondition: ok().
  T& value() & noexcept { return checked(); }
  const T& value() const& noexcept { return checked(); }
  T&& value() && noexcept { return std::move(checked()); }
  T* operator->() noexcept { return &checked(); }
  const T* operator->() const noexcept { return &checked(); }
  T& operator*() & noexcept { return checked(); }
  const T& operator*() const& noexcept { return checked(); }
  T&& operator*() && noexcept { return std::move(checked()); }

  /// The value, or `fallback` when the call failed.
  template <class U>
  T value_or(U&& fallback) const& {
    return value_ ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  T& checked() noexcept {
    if (!value_) {
      std::abort();  // value() of a failed Result: a caller bug, see the class comment
    }
    return *value_;
  }
  const T& checked() const noexcept {
    if (!value_) {
      std::abort();
    }
    return *value_;
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace v0
}  // namespace bgcopy

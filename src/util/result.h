// bg::Error and bg::Result<T>: the value-or-error type every module returns.
//
// Result<T> has the shape of std::expected<T, Error> (has_value(), value(), error(), *, ->).
// Error carries a code, a human message and, for input errors, the field the client sent.
// Only the API layer maps codes to HTTP statuses. Not thread-safe beyond a plain value type.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace bg {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kConflict,
  kResourceExhausted,
  kUnavailable,
  kInternal,
};

std::string_view ToString(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Error InvalidArgument(std::string field, std::string message) {
    return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(field));
  }
  static Error NotFound(std::string message) { return Error(ErrorCode::kNotFound, std::move(message)); }
  static Error PermissionDenied(std::string message) {
    return Error(ErrorCode::kPermissionDenied, std::move(message));
  }
  static Error Unauthenticated(std::string message) {
    return Error(ErrorCode::kUnauthenticated, std::move(message));
  }
  static Error FailedPrecondition(std::string message) {
    return Error(ErrorCode::kFailedPrecondition, std::move(message));
  }
  static Error Conflict(std::string message) { return Error(ErrorCode::kConflict, std::move(message)); }
  static Error ResourceExhausted(std::string message) {
    return Error(ErrorCode::kResourceExhausted, std::move(message));
  }
  static Error Unavailable(std::string message) {
    return Error(ErrorCode::kUnavailable, std::move(message));
  }
  static Error Internal(std::string message) { return Error(ErrorCode::kInternal, std::move(message)); }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }
  // For kResourceExhausted: how many seconds the client should wait before retrying (the HTTP
  // answer's Retry-After); 0 when the error does not say.
  int64_t retry_after_seconds() const { return retry_after_seconds_; }
  void set_retry_after_seconds(int64_t s) { retry_after_seconds_ = s; }
  // "code: message" or "code: field: message", for CLI output and logs.
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::string field_;
  int64_t retry_after_seconds_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  const Error& error() const { assert(!has_value()); return std::get<1>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;
inline Status Ok() { return {}; }

}  // namespace bg

#define BG_CONCAT_INNER_(a, b) a##b
#define BG_CONCAT_(a, b) BG_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result) from the enclosing function.
#define BG_TRY(expr)                                   \
  do {                                                 \
    auto&& bg_try_result_ = (expr);                    \
    if (!bg_try_result_.has_value()) return bg_try_result_.error(); \
  } while (0)

#define BG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.has_value()) return tmp.error();       \
  lhs = std::move(tmp).value()

// `BG_ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value or returns F()'s error.
#define BG_ASSIGN_OR_RETURN(lhs, expr) \
  BG_ASSIGN_OR_RETURN_IMPL_(BG_CONCAT_(bg_result_, __LINE__), lhs, expr)

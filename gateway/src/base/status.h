// Status and StatusOr: how the request path reports failure without exceptions.
// Codes map to HTTP statuses in one place (httpStatus below).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ilpgw {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // 400 malformed input
  kUnauthenticated,     // 401 no, bad or expired credentials
  kPermissionDenied,    // 403 authenticated, but not allowed
  kNotFound,            // 404
  kConflict,            // 409
  kPreconditionFailed,  // 412
  kTooLarge,            // 413
  kUnsupportedMedia,    // 415
  kUnprocessable,       // 422 valid syntax, cannot be mapped or validated
  kTooManyRequests,     // 429 rate limit
  kUnavailable,         // 503
  kInternal,            // 500, never with details in the response
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline int httpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kConflict: return 409;
    case StatusCode::kPreconditionFailed: return 412;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kUnsupportedMedia: return 415;
    case StatusCode::kUnprocessable: return 422;
    case StatusCode::kTooManyRequests: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ilpgw

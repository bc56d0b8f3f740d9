// brokerd client library: Status and Result, how every call reports success or failure.
//
// The library does not throw across its API (a task handler may throw; see worker.h).
// Error codes 1..99 mirror the server's wire error codes (docs/protocol.md); codes from
// 100 up arise in the client itself.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace brokerd {

enum class ErrorCode {
  kOk = 0,
  kBadFrame = 1,
  kFrameTooLarge = 2,
  kUnsupportedVersion = 3,
  kHandshakeRequired = 4,
  kInvalidArgument = 5,
  kNotFound = 6,           // the broker never saw this task id, or its result expired
  kStaleLease = 7,         // a completion for a lease this worker no longer holds
  kUnknownRequest = 8,
  kInternal = 9,
  kShuttingDown = 10,
  kResourceExhausted = 11,
  kPermissionDenied = 12,
  kTimeout = 13,           // a wait or request deadline passed
  kUnavailable = 100,      // could not connect, or the connection was lost
  kProtocolError = 101,    // the server sent something this client cannot understand
};

// Stable upper-case name of a code, e.g. "NOT_FOUND".
const char* error_code_name(ErrorCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: no task with id ..." or "OK".
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}                      // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace brokerd

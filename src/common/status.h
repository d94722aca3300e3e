// Status and Result<T>: how the ingest and storage paths report errors.
//
// A Status is either OK or carries a code and a message. The code tells the
// caller what to do next:
//   kInvalidArgument   the input is wrong; do not retry it unchanged (HTTP 400).
//   kNotFound          the thing asked for does not exist (HTTP 404).
//   kResourceExhausted a budget is full; retry later (HTTP 429 / 503).
//   kTooLarge          the input is over a size limit (HTTP 413).
//   kCorruption        stored data failed a check; isolate it, keep serving.
//   kIOError           the operating system failed an operation.
//   kUnavailable       the component is shutting down or not ready yet.
//   kDeadlineExceeded  the operation ran out of time.
//   kInternal          a bug: an invariant did not hold.
// Status is cheap on success (no allocation) and [[nodiscard]]: a Status
// cannot be silently dropped. Thread-compatible, like any value type.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lode {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kResourceExhausted,
  kTooLarge,
  kCorruption,
  kIOError,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kInternal,
};

// Name of a code, e.g. "InvalidArgument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status TooLarge(std::string msg) { return {StatusCode::kTooLarge, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // An IOError naming `context` (usually a path) and strerror(errnum).
  static Status FromErrno(std::string_view context, int errnum);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message alone; empty when ok().
  std::string_view message() const {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context: `.
  Status WithContext(std::string_view context) const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK; shared so copies are cheap
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // REQUIRES: !status.ok(). An OK status here is a bug; release builds turn
  // it into an Internal error rather than a result with neither value nor error.
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lode

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define LODE_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::lode::Status lode_status_ = (expr);        \
    if (!lode_status_.ok()) return lode_status_; \
  } while (0)

#define LODE_CONCAT_INNER_(a, b) a##b
#define LODE_CONCAT_(a, b) LODE_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status. Expands
// to several statements: use it only where a statement list may stand.
#define LODE_ASSIGN_OR_RETURN(lhs, expr) \
  LODE_ASSIGN_OR_RETURN_IMPL_(LODE_CONCAT_(lode_result_, __LINE__), lhs, expr)
#define LODE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

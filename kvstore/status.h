// Status helpers used across kvstore: early-return macros for absl::Status and
// absl::StatusOr, which the Abseil release we build against does not ship.
#ifndef KVSTORE_STATUS_H_
#define KVSTORE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KV_STATUS_CONCAT_INNER_(a, b) a##b
#define KV_STATUS_CONCAT_(a, b) KV_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` yields a non-OK status.
#define KV_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status kv_status_ = (expr);           \
    if (!kv_status_.ok()) return kv_status_;      \
  } while (0)

// `KV_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define KV_ASSIGN_OR_RETURN(lhs, expr) \
  KV_ASSIGN_OR_RETURN_IMPL_(KV_STATUS_CONCAT_(kv_statusor_, __LINE__), lhs, expr)
#define KV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // KVSTORE_STATUS_H_

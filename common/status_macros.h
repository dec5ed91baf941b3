// Status propagation helpers for absl::Status / absl::StatusOr at module boundaries.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RS_CONCAT_INNER_(a, b) a##b
#define RS_CONCAT_(a, b) RS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    if (absl::Status rs_status_ = (expr); !rs_status_.ok()) \
      return rs_status_;                               \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from an absl::StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(RS_CONCAT_(rs_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

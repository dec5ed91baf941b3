// EXPECT_STATUS(expr, kCode, "substring"): the status has that code and its message names
// the problem.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#define EXPECT_STATUS(expr, want_code, substr)                                    \
  do {                                                                            \
    const absl::Status s_ = (expr);                                               \
    EXPECT_EQ(s_.code(), absl::StatusCode::want_code) << s_;                      \
    EXPECT_THAT(std::string(s_.message()), ::testing::HasSubstr(substr)) << s_;   \
  } while (0)

// bench's small statistics: length distributions and latency percentiles.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace radixctl {

// A token-length distribution: "128" (fixed), "64:256" (uniform, inclusive) or
// "normal:128:32" (normal, mean:stddev, rounded, at least 1).
struct LengthDist {
  enum Kind { kFixed, kUniform, kNormal } kind = kFixed;
  double a = 0, b = 0;
  std::string spec;

  static absl::StatusOr<LengthDist> Parse(const std::string& spec);
  int Sample(std::mt19937_64& rng) const;
};

// mean, p50, p90, p99 (linear interpolation between order statistics, as numpy's default).
struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
  size_t count = 0;
  static Percentiles Of(std::vector<double> values);
  nlohmann::json ToJson() const;
};

double Percentile(const std::vector<double>& sorted, double q);

}  // namespace radixctl

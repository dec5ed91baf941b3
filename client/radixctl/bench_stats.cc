#include "client/radixctl/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace radixctl {

absl::StatusOr<LengthDist> LengthDist::Parse(const std::string& spec) {
  LengthDist d;
  d.spec = spec;
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  auto num = [](const std::string& s, double* out) { return absl::SimpleAtod(s, out) && *out >= 0; };
  const auto bad = absl::InvalidArgumentError("bad length distribution '" + spec +
                                              "': use N, MIN:MAX (uniform) or normal:MEAN:STDDEV");
  if (parts.size() == 1 && num(parts[0], &d.a) && d.a >= 1) {
    d.kind = kFixed;
  } else if (parts.size() == 2 && num(parts[0], &d.a) && num(parts[1], &d.b) && d.a >= 1 && d.b >= d.a) {
    d.kind = kUniform;
  } else if (parts.size() == 3 && parts[0] == "normal" && num(parts[1], &d.a) && num(parts[2], &d.b) && d.a >= 1) {
    d.kind = kNormal;
  } else {
    return bad;
  }
  return d;
}

int LengthDist::Sample(std::mt19937_64& rng) const {
  switch (kind) {
    case kFixed: return static_cast<int>(a);
    case kUniform: return std::uniform_int_distribution<int>(static_cast<int>(a), static_cast<int>(b))(rng);
    case kNormal: return std::max(1, static_cast<int>(std::lround(std::normal_distribution<double>(a, b)(rng))));
  }
  return 1;
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

Percentiles Percentiles::Of(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  p.p50 = Percentile(v, 0.50);
  p.p90 = Percentile(v, 0.90);
  p.p99 = Percentile(v, 0.99);
  return p;
}

nlohmann::json Percentiles::ToJson() const {
  return {{"mean", mean}, {"p50", p50}, {"p90", p90}, {"p99", p99}, {"count", count}};
}

}  // namespace radixctl

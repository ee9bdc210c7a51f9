// Replays synthetic request traces against the cache policies and reports
// miss ratios (a simulation: no files, no time measured).
//
//   (a) Zipf(alpha = 0.9) requests over 10x as many chunks as the cache holds;
//   (b) the same requests mixed 1:1 with a one-pass scan of new chunks (what
//       a verify, a full restore or a big new backup looks like to the cache).
//
// For (b) the interesting number is the hot set's miss ratio: the Zipf
// requests' misses while the scan runs, against the same before it.
//
//   build/release/bench/cache_replay [cache_chunks] [requests]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cache/policy.h"

namespace chunkvault {
namespace {

Digest Key(uint64_t id) {
  Digest d{};
  // Spread the id over the bytes the hash map looks at.
  uint64_t mixed = id * 0x9e3779b97f4a7c15ull;
  std::memcpy(d.data(), &mixed, sizeof mixed);
  std::memcpy(d.data() + 8, &id, sizeof id);
  return d;
}

class Zipf {
 public:
  Zipf(uint64_t n, double alpha, uint64_t seed) : rng_(seed), cdf_(n) {
    double sum = 0;
    for (uint64_t k = 0; k < n; ++k) cdf_[k] = sum += 1.0 / std::pow(double(k + 1), alpha);
    for (double& c : cdf_) c /= sum;
  }
  uint64_t Next() {
    double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return uint64_t(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::mt19937_64 rng_;
  std::vector<double> cdf_;
};

struct ReplayResult {
  double before;        // Zipf miss ratio without the scan (trace a)
  double hot_in_scan;   // Zipf requests' miss ratio while the scan runs
  double all_in_scan;   // every request's miss ratio during the scan (b)
};

ReplayResult Run(const std::string& policy_name, uint64_t cache_chunks, uint64_t requests) {
  constexpr uint64_t kChunk = 4u << 20;  // every chunk 4 MiB
  auto policy = *NewCachePolicy(policy_name, cache_chunks * kChunk);
  PolicySimulator sim(policy.get(), cache_chunks * kChunk);
  Zipf zipf(cache_chunks * 10, 0.9, 42);
  auto miss_ratio = [&](uint64_t n, bool scan) {
    uint64_t hot_misses = 0, misses = 0, total = 0;
    static uint64_t next_scan = 1ull << 40;  // ids no Zipf request uses
    for (uint64_t i = 0; i < n; ++i) {
      bool hit = sim.Access(Key(zipf.Next()), kChunk);
      hot_misses += !hit;
      misses += !hit;
      ++total;
      if (scan) {
        misses += !sim.Access(Key(next_scan++), kChunk);
        ++total;
      }
    }
    return std::pair{double(hot_misses) / double(n), double(misses) / double(total)};
  };
  miss_ratio(requests, false);  // warm up
  ReplayResult r;
  r.before = miss_ratio(requests, false).first;
  auto [hot, all] = miss_ratio(requests, true);
  r.hot_in_scan = hot;
  r.all_in_scan = all;
  return r;
}

}  // namespace
}  // namespace chunkvault

int main(int argc, char** argv) {
  using namespace chunkvault;
  const uint64_t cache_chunks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000;
  const uint64_t requests = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
  std::printf("cache: %llu chunks; Zipf(0.9) over %llu chunks; %llu requests per phase\n\n",
              (unsigned long long)cache_chunks, (unsigned long long)cache_chunks * 10,
              (unsigned long long)requests);
  std::printf("| policy | (a) Zipf miss ratio | (b) hot-set miss ratio during the scan | (b) all requests during the scan |\n");
  std::printf("|---|---|---|---|\n");
  bool ok = true;
  for (const char* name : {"s3fifo", "lru"}) {
    ReplayResult r = Run(name, cache_chunks, requests);
    std::printf("| %s | %.1f%% | %.1f%% | %.1f%% |\n", name, 100 * r.before, 100 * r.hot_in_scan,
                100 * r.all_in_scan);
    if (std::string(name) == "s3fifo") ok = (r.hot_in_scan - r.before) * 100 <= 2.0;
  }
  std::printf("\ntarget (S3-FIFO's hot-set miss ratio during the scan within 2 points of before): %s\n",
              ok ? "met" : "MISSED");
  return ok ? 0 : 1;
}

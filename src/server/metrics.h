// chunkvaultd's counters since it started, and GET /metrics: them, each
// open datastore's cache and S3 request counts, and the GC and verify
// tasks, in Prometheus's text exposition format (version 0.0.4).
//
// Thread-safety: counters are atomics, updated from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "chunkvault/cache_report.h"

namespace chunkvault::server {

struct ServerMetrics {
  std::atomic<uint64_t> backups_finished{0}, backups_aborted{0}, restores{0};
  std::atomic<int64_t> sessions_active{0};
  std::atomic<uint64_t> bytes_received{0};  // chunk and blob uploads
  std::atomic<uint64_t> chunks_received{0}, chunks_stored{0}, chunks_duplicate{0};
  std::atomic<uint64_t> bytes_served{0}, chunks_served{0};
  std::atomic<uint64_t> requests{0};  // HTTP/1.1 requests and HTTP/2 session calls
  std::atomic<uint64_t> auth_failures{0};
};

struct StoreMetrics {
  std::string name;
  CacheReport report;
};

// tasks: type -> (started, failed).
std::string RenderMetrics(const ServerMetrics& m, const std::vector<StoreMetrics>& stores,
                          const std::map<std::string, std::pair<uint64_t, uint64_t>>& tasks);

}  // namespace chunkvault::server

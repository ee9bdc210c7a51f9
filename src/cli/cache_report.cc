#include "cli/cache_report.h"

#include <cstdio>

#include "chunkvault/cache_report.h"
#include "chunkvault/size.h"

namespace chunkvault::cli {

std::string HitRatio(uint64_t hits, uint64_t misses) {
  if (hits + misses == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * double(hits) / double(hits + misses));
  return buf;
}

nlohmann::json HitRatioJson(uint64_t hits, uint64_t misses) {
  if (hits + misses == 0) return nullptr;
  return double(hits) / double(hits + misses);
}

std::string RequestsLine(const nlohmann::json& r) {
  auto n = [&](const char* key) { return r.value(key, uint64_t(0)); };
  std::string line = std::to_string(n("get")) + " GET";
  if (n("bytes-down") > 0) line += " (" + FormatSize(n("bytes-down")) + ")";
  line += ", " + std::to_string(n("put")) + " PUT";
  if (n("bytes-up") > 0) line += " (" + FormatSize(n("bytes-up")) + ")";
  line += ", " + std::to_string(n("head")) + " HEAD, " + std::to_string(n("list")) + " LIST, " +
          std::to_string(n("delete")) + " DELETE";
  if (n("copy") > 0) line += ", " + std::to_string(n("copy")) + " COPY";
  return line;
}

void AddCacheJson(nlohmann::json& j, const CacheReport& report) {
  if (!report.remote) return;
  const CacheCounters& c = report.counters;
  nlohmann::json cache = CacheRunJson(c, report.requests);
  cache.erase("requests");
  cache["used"] = report.opened;
  cache["hit-ratio"] = HitRatioJson(c.hits, c.misses);
  cache["owner"] = report.state.owner;
  cache["policy"] = report.state.policy;
  cache["size"] = report.state.bytes;
  cache["chunks"] = report.state.chunks;
  cache["limit"] = report.state.limit;
  j["cache"] = std::move(cache);
  j["s3-requests"] = RequestsJson(report.requests);
}

void PrintCacheReport(const CacheReport& report) {
  if (!report.remote) return;
  const CacheCounters& c = report.counters;
  if (report.opened) {
    std::string line = "cache: " + std::to_string(c.hits) + " hits, " + std::to_string(c.misses) +
                       " misses (hit ratio " + HitRatio(c.hits, c.misses) + "), " +
                       FormatSize(c.bytes_hit) + " served locally";
    if (c.uploads_skipped > 0)
      line += ", " + std::to_string(c.uploads_skipped) + " uploads skipped";
    line += ", " + std::to_string(c.admissions) + " admitted, " + std::to_string(c.evictions) +
            " evicted, " + std::to_string(c.rejected) + " rejected";
    if (report.state.owner) {
      line += "; holds " + FormatSize(report.state.bytes) + " of " +
              FormatSize(report.state.limit) + " in " + std::to_string(report.state.chunks) +
              " chunks";
    } else {
      line += "; read through (another process manages the cache)";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fprintf(stderr, "s3 requests: %s\n", RequestsLine(RequestsJson(report.requests)).c_str());
}

}  // namespace chunkvault::cli

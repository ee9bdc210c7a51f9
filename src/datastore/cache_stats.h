// The cache's numbers as JSON: one run's, and the running totals kept in
// <store>/.cache/stats.json, with what the cache saved in S3 charges.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chunkvault/backend.h"
#include "chunkvault/cache_types.h"
#include "chunkvault/env.h"
#include "chunkvault/status.h"

namespace chunkvault {

// Per-request and per-GB prices, in dollars. Defaults: AWS S3 Standard
// list prices (us-east-1): GET/HEAD $0.0004 and PUT/COPY/POST/LIST $0.005
// per 1000 requests, data transfer out $0.09 per GB.
struct S3Prices {
  double get_per_1000 = 0.0004;
  double put_per_1000 = 0.005;
  double transfer_per_gb = 0.09;
};

// {"get": n, "put": n, ..., "bytes-up": n, "bytes-down": n}
nlohmann::json RequestsJson(const BackendCounts& requests);
// One run's cache counters, with "requests": RequestsJson.
nlohmann::json CacheRunJson(const CacheCounters& counters, const BackendCounts& requests);

// Adds one run's numbers to the totals in `path` (created if missing),
// under a lock so that concurrent processes add up.
Status AccumulateCacheStats(Env* env, const std::string& path, const nlohmann::json& run);
// The totals; an empty object if there are none yet.
Result<nlohmann::json> LoadCacheStats(Env* env, const std::string& path);

// What the requests the cache made unnecessary would have cost: a GET and
// the transfer for every hit, a PUT for every upload it skipped.
double EstimatedSavings(const nlohmann::json& totals, const S3Prices& prices);

}  // namespace chunkvault

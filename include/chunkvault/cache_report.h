// The local chunk cache of an S3-backed datastore: its settings, what one
// process did with it, and what it saved (docs/format.md, "The chunk
// cache").
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chunkvault/backend.h"
#include "chunkvault/cache_types.h"

namespace chunkvault {

struct CacheOptions {
  uint64_t max_size = 0;          // bytes; 0: bounded by the free space only
  std::string policy = "s3fifo";  // s3fifo | lru
};

// What this process did with the cache and the bucket so far.
struct CacheReport {
  bool remote = false;  // an S3-backed store
  bool opened = false;  // the cache was used
  CacheCounters counters;
  CacheState state;
  BackendCounts requests;  // S3 requests made
};

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

// What the requests the cache made unnecessary would have cost, from the
// totals Datastore::CacheTotals gives: a GET and the transfer for every
// hit, a PUT for every upload it skipped.
double EstimatedSavings(const nlohmann::json& totals, const S3Prices& prices);

}  // namespace chunkvault

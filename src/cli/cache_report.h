// The local chunk cache's numbers on the command line: the lines printed
// at the end of backup, restore and verify, and their JSON.
#pragma once

#include <nlohmann/json.hpp>

#include "chunkvault/datastore.h"

namespace chunkvault::cli {

// {"cache": {...}, "s3-requests": {...}} for an S3-backed store; adds
// nothing for a local one.
void AddCacheJson(nlohmann::json& j, const CacheReport& report);

// Two lines on stderr (cache, S3 requests) for an S3-backed store.
void PrintCacheReport(const CacheReport& report);

// "99.6%", or "-" without any lookups.
std::string HitRatio(uint64_t hits, uint64_t misses);
// The same for JSON: a fraction, or null without any lookups.
nlohmann::json HitRatioJson(uint64_t hits, uint64_t misses);

// "3 GET (12 MiB), 45 PUT (180 MiB), 0 HEAD, 0 LIST, 0 DELETE"
std::string RequestsLine(const nlohmann::json& requests);

}  // namespace chunkvault::cli

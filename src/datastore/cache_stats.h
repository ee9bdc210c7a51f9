// The cache's running totals, kept in <store>/.cache/stats.json
// (docs/format.md, "The chunk cache"); one run's numbers as JSON are in
// chunkvault/cache_report.h.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chunkvault/cache_report.h"
#include "chunkvault/env.h"
#include "chunkvault/status.h"

namespace chunkvault {

// Adds one run's numbers to the totals in `path` (created if missing),
// under a lock so that concurrent processes add up.
Status AccumulateCacheStats(Env* env, const std::string& path, const nlohmann::json& run);
// The totals; an empty object if there are none yet.
Result<nlohmann::json> LoadCacheStats(Env* env, const std::string& path);

}  // namespace chunkvault

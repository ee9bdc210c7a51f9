#include "datastore/cache_stats.h"

#include "chunkvault/env.h"

namespace chunkvault {

nlohmann::json RequestsJson(const BackendCounts& r) {
  return {{"get", r.get},    {"put", r.put},   {"head", r.head},         {"list", r.list},
          {"delete", r.del}, {"copy", r.copy}, {"bytes-up", r.bytes_up}, {"bytes-down", r.bytes_down}};
}

nlohmann::json CacheRunJson(const CacheCounters& c, const BackendCounts& r) {
  return {{"hits", c.hits},
          {"misses", c.misses},
          {"bytes-served-locally", c.bytes_hit},
          {"admissions", c.admissions},
          {"bytes-admitted", c.bytes_admitted},
          {"evictions", c.evictions},
          {"bytes-evicted", c.bytes_evicted},
          {"admissions-rejected", c.rejected},
          {"markers-written", c.markers},
          {"joined-fetches", c.joined},
          {"uploads-skipped", c.uploads_skipped},
          {"requests", RequestsJson(r)}};
}

namespace {

// Adds the numbers of `add` into `into`, recursively.
void AddInto(nlohmann::json& into, const nlohmann::json& add) {
  for (auto it = add.begin(); it != add.end(); ++it) {
    if (it->is_object()) {
      AddInto(into[it.key()], *it);
    } else if (it->is_number_unsigned()) {
      uint64_t base = into.contains(it.key()) && into[it.key()].is_number() ? into[it.key()].get<uint64_t>() : 0;
      into[it.key()] = base + it->get<uint64_t>();
    }
  }
}

}  // namespace

Result<nlohmann::json> LoadCacheStats(Env* env, const std::string& path) {
  auto raw = env->ReadFile(path, kMaxMetadataFileSize);
  if (!raw) {
    if (raw.error().code() == ErrorCode::kNotFound) return nlohmann::json::object();
    return std::unexpected(raw.error());
  }
  auto j = nlohmann::json::parse(AsString(*raw), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kCorrupt, path + " is not a JSON object");
  return j;
}

Status AccumulateCacheStats(Env* env, const std::string& path, const nlohmann::json& run) {
  CV_ASSIGN_OR_RETURN(auto lock, env->Lock(path + ".lock", LockMode::kExclusive, /*wait=*/true));
  CV_ASSIGN_OR_RETURN(nlohmann::json totals, LoadCacheStats(env, path));
  if (!totals.contains("since")) totals["since"] = env->NowUnix();
  AddInto(totals, run);
  totals["runs"] = totals.value("runs", uint64_t(0)) + 1;
  return env->WriteFileAtomic(path, AsBytes(totals.dump(2) + "\n"), {});
}

double EstimatedSavings(const nlohmann::json& t, const S3Prices& p) {
  auto get = [&](const char* key) { return t.contains(key) ? t[key].get<double>() : 0.0; };
  return get("hits") * p.get_per_1000 / 1000 + get("bytes-served-locally") / 1e9 * p.transfer_per_gb +
         get("uploads-skipped") * p.put_per_1000 / 1000;
}

}  // namespace chunkvault

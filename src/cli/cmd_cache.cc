// chunkvault cache stats [--json] [--get-price P] [--put-price P] [--transfer-price P]
// What the local chunk cache of an S3-backed store holds and has saved.
#include <cstdio>
#include <ctime>

#include "chunkvault/cache_report.h"
#include "chunkvault/size.h"
#include "cli/cache_report.h"
#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct CacheStatsArgs {
  StoreOptions store;
  S3Prices prices;
};

std::string Dollars(double amount) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.2f", amount);
  return buf;
}

std::string LocalTime(int64_t unix_time) {
  std::time_t t = unix_time;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

int RunCacheStats(const CacheStatsArgs& args) {
  auto ds = OpenStore(args.store);
  if (!ds) return ReportError(ds.error());
  auto state = (*ds)->CacheStatus();
  if (!state) return ReportError(state.error());
  auto totals = (*ds)->CacheTotals();
  if (!totals) return ReportError(totals.error());
  auto n = [&](const char* key) { return totals->value(key, uint64_t(0)); };
  const uint64_t hits = n("hits"), misses = n("misses");
  const nlohmann::json requests =
      totals->contains("requests") ? (*totals)["requests"] : nlohmann::json::object();
  const double saved = EstimatedSavings(*totals, args.prices);

  if (args.store.json) {
    nlohmann::json j = {
        {"store", (*ds)->path()},
        {"policy", state->policy},
        {"owner", state->owner},
        {"size", state->bytes},
        {"limit", state->limit},
        {"chunks", state->chunks},
        {"since", totals->contains("since") ? (*totals)["since"] : nlohmann::json(nullptr)},
        {"runs", n("runs")},
        {"hits", hits},
        {"misses", misses},
        {"hit-ratio", HitRatioJson(hits, misses)},
        {"bytes-served-locally", n("bytes-served-locally")},
        {"admissions", n("admissions")},
        {"evictions", n("evictions")},
        {"bytes-evicted", n("bytes-evicted")},
        {"admissions-rejected", n("admissions-rejected")},
        {"uploads-skipped", n("uploads-skipped")},
        {"s3-requests", requests},
        {"prices",
         {{"get-per-1000", args.prices.get_per_1000},
          {"put-per-1000", args.prices.put_per_1000},
          {"transfer-per-gb", args.prices.transfer_per_gb}}},
        {"estimated-savings", saved}};
    PrintJson(j);
    return kExitOk;
  }
  std::printf("cache of %s (policy %s)\n", (*ds)->path().c_str(),
              state->policy.empty() ? "-" : state->policy.c_str());
  if (state->owner) {
    std::printf("  size              %s of %s limit, %llu chunks\n",
                FormatSize(state->bytes).c_str(), FormatSize(state->limit).c_str(),
                (unsigned long long)state->chunks);
  } else {
    std::printf("  size              unknown: another process is using the cache\n");
  }
  if (totals->contains("since"))
    std::printf("  since             %s (%llu runs)\n",
                LocalTime((*totals)["since"].get<int64_t>()).c_str(),
                (unsigned long long)n("runs"));
  std::printf("  hits              %llu (%s served locally)\n", (unsigned long long)hits,
              FormatSize(n("bytes-served-locally")).c_str());
  std::printf("  misses            %llu\n", (unsigned long long)misses);
  std::printf("  hit ratio         %s\n", HitRatio(hits, misses).c_str());
  std::printf("  uploads skipped   %llu\n", (unsigned long long)n("uploads-skipped"));
  std::printf("  evictions         %llu (%s)\n", (unsigned long long)n("evictions"),
              FormatSize(n("bytes-evicted")).c_str());
  std::printf("  rejected          %llu\n", (unsigned long long)n("admissions-rejected"));
  std::printf("  s3 requests       %s\n", RequestsLine(requests).c_str());
  std::printf("  saved (estimate)  %s at $%g per 1000 GET, $%g per 1000 PUT, $%g per GB out\n",
              Dollars(saved).c_str(), args.prices.get_per_1000, args.prices.put_per_1000,
              args.prices.transfer_per_gb);
  return kExitOk;
}

}  // namespace

void RegisterCache(CLI::App& app, int& exit_code) {
  CLI::App* cache = app.add_subcommand("cache", "The local chunk cache of an S3-backed datastore");
  cache->require_subcommand(1);
  auto args = std::make_shared<CacheStatsArgs>();
  CLI::App* stats = cache->add_subcommand(
      "stats",
      "Size and limit, hits and misses, S3 requests made, and the money the cache saved "
      "(totals of every run)");
  AddStoreOptions(stats, args->store, /*with_ns=*/false, /*with_json=*/true);
  stats
      ->add_option("--get-price", args->prices.get_per_1000,
                   "Dollars per 1000 GET/HEAD requests (default: AWS S3 Standard, 0.0004)")
      ->check(CLI::NonNegativeNumber);
  stats
      ->add_option("--put-price", args->prices.put_per_1000,
                   "Dollars per 1000 PUT/COPY/LIST requests (default: AWS S3 Standard, 0.005)")
      ->check(CLI::NonNegativeNumber);
  stats
      ->add_option("--transfer-price", args->prices.transfer_per_gb,
                   "Dollars per GB transferred out (default: AWS, 0.09)")
      ->check(CLI::NonNegativeNumber);
  stats->callback([args, &exit_code] { exit_code = RunCacheStats(*args); });
}

}  // namespace chunkvault::cli

// chunkvault s3-refresh: rebuild the local metadata from the bucket.
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

int RunRefresh(const StoreOptions& opts) {
  auto ds = OpenStore(opts);
  if (!ds) return ReportError(ds.error());
  auto report = (*ds)->RefreshFromBackend();
  if (!report) return ReportError(report.error());
  if (opts.json) {
    PrintJson({{"files", report->files},
               {"removed-snapshots", report->removed_snapshots},
               {"skipped", report->skipped}});
    return kExitOk;
  }
  for (const std::string& s : report->skipped) std::fprintf(stderr, "skipped %s\n", s.c_str());
  std::printf("refreshed %s from %s: %llu metadata files, %llu local snapshots removed\n",
              (*ds)->path().c_str(), (*ds)->DescribeStorage().c_str(),
              (unsigned long long)report->files, (unsigned long long)report->removed_snapshots);
  return kExitOk;
}

}  // namespace

void RegisterS3Refresh(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<StoreOptions>();
  CLI::App* cmd = app.add_subcommand(
      "s3-refresh",
      "Rebuild the local metadata of an S3-backed datastore from the bucket (chunks stay there)");
  AddStoreOptions(cmd, *opts, /*with_ns=*/false, /*with_json=*/true);
  cmd->callback([opts, &exit_code] { exit_code = RunRefresh(*opts); });
}

}  // namespace chunkvault::cli

// chunkvault gc [--dry-run] [--atime-cutoff MINUTES] [--json]
#include <cstdio>

#include "chunkvault/cache_report.h"
#include "chunkvault/size.h"
#include "cli/cache_report.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace chunkvault::cli {
namespace {

struct GcArgs {
  StoreOptions store;
  GcOptions gc;
};

class GcPrinter final : public GcObserver {
 public:
  explicit GcPrinter(ProgressLine& line) : line_(line) {}
  void OnMark(uint64_t index_files, uint64_t chunks) override {
    line_.Update([&] {
      return "gc: marking, " + std::to_string(index_files) + " index files, " +
             std::to_string(chunks) + " chunks";
    });
  }
  void OnSweep(uint64_t checked, uint64_t removed) override {
    line_.Update([&] {
      return "gc: sweeping, " + std::to_string(removed) + " of " + std::to_string(checked) +
             " chunks removed";
    });
  }

 private:
  ProgressLine& line_;
};

// Through a server: its garbage collection task, with its settings.
int RunRemoteGc(const GcArgs& args, const StoreOptions& where) {
  if (args.gc.dry_run || args.gc.atime_cutoff_minutes != GcOptions{}.atime_cutoff_minutes)
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "--dry-run and --atime-cutoff are not for a server's garbage "
                             "collection; leave them out with --repository"));
  auto remote = ConnectRemote(where);
  if (!remote) return ReportError(remote.error());
  auto task = (*remote)->RunGc();
  if (!task)
    return ReportError(task.error().Context("garbage collection on " + (*remote)->Describe()));
  nlohmann::json result = task->value("result", nlohmann::json::object());
  if (!result.is_object()) result = nlohmann::json::object();
  if (args.store.json) {
    result["upid"] = task->value("upid", "");
    PrintJson(result);
    return kExitOk;
  }
  auto count = [&](const char* key) {
    return result.contains(key) && result[key].is_number_unsigned() ? result[key].get<uint64_t>()
                                                                    : uint64_t{0};
  };
  std::printf(
      "removed %llu chunks (%s); %llu unused but newer than the cutoff (%s); %llu in use (%s) "
      "by %llu index files\n",
      (unsigned long long)count("removed-chunks"), FormatSize(count("removed-bytes")).c_str(),
      (unsigned long long)count("pending-chunks"), FormatSize(count("pending-bytes")).c_str(),
      (unsigned long long)count("disk-chunks"), FormatSize(count("disk-bytes")).c_str(),
      (unsigned long long)count("index-file-count"));
  return kExitOk;
}

int RunGc(const GcArgs& args) {
  StoreOptions where = args.store;
  if (auto st = ResolveTarget(where); !st) return ReportError(st.error());
  if (!where.repository.empty()) return RunRemoteGc(args, where);
  auto ds = OpenStore(where);
  if (!ds) return ReportError(ds.error());
  ProgressLine line;
  GcPrinter printer(line);
  auto report = (*ds)->GarbageCollect(args.gc, args.store.json ? nullptr : &printer);
  line.Clear();
  if (!report) return ReportError(report.error().Context("garbage collection"));
  const GcReport& r = *report;
  if (args.store.json) {
    nlohmann::json j = {{"dry-run", r.dry_run},
                        {"cutoff", r.cutoff},
                        {"index-files", r.index_files},
                        {"referenced-chunks", r.referenced},
                        {"markers-written", r.markers_written},
                        {"removed-chunks", r.removed},
                        {"removed-bytes", r.removed_bytes},
                        {"removed-objects", r.removed_objects},
                        {"pending-chunks", r.pending},
                        {"pending-bytes", r.pending_bytes},
                        {"kept-chunks", r.kept},
                        {"kept-bytes", r.kept_bytes},
                        {"removed-bad", r.removed_bad},
                        {"still-bad", r.still_bad},
                        {"removed-temporary", r.removed_temporary},
                        {"missing-chunks", r.missing},
                        {"damaged-snapshots", r.damaged}};
    if ((*ds)->is_remote()) j["s3-requests"] = RequestsJson(r.requests);
    PrintJson(j);
  } else {
    std::printf(
        "%s %llu chunks (%s)%s; %llu unused but newer than the cutoff (%s); %llu in use "
        "(%s) by %llu index files\n",
        r.dry_run ? "would remove" : "removed", (unsigned long long)r.removed,
        FormatSize(r.removed_bytes).c_str(),
        (*ds)->is_remote()
            ? (", " + std::to_string(r.removed_objects) + " of them from the bucket").c_str()
            : "",
        (unsigned long long)r.pending, FormatSize(r.pending_bytes).c_str(),
        (unsigned long long)r.kept, FormatSize(r.kept_bytes).c_str(),
        (unsigned long long)r.index_files);
    if (r.removed_bad != 0 || r.still_bad != 0)
      std::printf("copies verify moved aside (.bad): %s %llu, %llu kept (newer than the cutoff)\n",
                  r.dry_run ? "would remove" : "removed", (unsigned long long)r.removed_bad,
                  (unsigned long long)r.still_bad);
    if (r.removed_temporary != 0)
      std::printf("temporary files killed writers left: %s %llu\n",
                  r.dry_run ? "would remove" : "removed", (unsigned long long)r.removed_temporary);
    for (const std::string& d : r.missing)
      std::fprintf(stderr, "warning: chunk %s is referenced but missing\n", d.c_str());
    for (const std::string& d : r.damaged)
      std::fprintf(stderr, "warning: damaged: %s\n", d.c_str());
    if ((*ds)->is_remote())
      std::fprintf(stderr, "s3 requests: %s\n", RequestsLine(RequestsJson(r.requests)).c_str());
  }
  // Missing chunks and damaged snapshots fail a real run and a dry run alike.
  return r.missing.empty() && r.damaged.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterGc(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GcArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gc",
      "Garbage collection: remove chunks no snapshot uses (locally, from the cache and from the "
      "bucket); safe while backups run");
  AddStoreOptions(cmd, args->store, /*with_ns=*/false, /*with_json=*/true, /*remote_ok=*/true);
  cmd->add_flag("--dry-run", args->gc.dry_run, "Only report what would be removed");
  cmd->add_option("--atime-cutoff", args->gc.atime_cutoff_minutes,
                  "Minutes a chunk must have gone unused before it is removed (default 1445: "
                  "24 h 5 min, as PBS; 0 allowed)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args, &exit_code] { exit_code = RunGc(*args); });
}

}  // namespace chunkvault::cli

// chunkvault restore SNAPSHOT [ARCHIVE] TARGET [--overwrite] [--include PATTERN...]
// Without ARCHIVE, every archive of the snapshot goes into directory TARGET.
#include <cstdio>

#include "chunkvault/size.h"
#include "cli/cache_report.h"
#include "cli/common.h"
#include "cli/crypt_options.h"
#include "cli/progress.h"

namespace chunkvault::cli {
namespace {

struct RestoreArgs {
  StoreOptions store;
  std::string snapshot;
  std::vector<std::string> rest;  // [ARCHIVE] TARGET
  bool overwrite = false;
  CryptArgs crypt;
  std::vector<std::string> includes;
};

class RestoreObserver final : public TarObserver {
 public:
  explicit RestoreObserver(ProgressLine& line) : line_(line) {}
  void OnEntry(const std::string&, uint64_t size) override {
    ++files_;
    bytes_ += size;
    line_.Update([&] {
      return "restore: " + FormatSize(bytes_) + ", " + std::to_string(files_) + " files, " +
             line_.Rate(bytes_);
    });
  }
  void OnWarning(const std::string& message) override {
    line_.Clear();
    std::fprintf(stderr, "warning: %s\n", message.c_str());
  }

 private:
  ProgressLine& line_;
  uint64_t files_ = 0, bytes_ = 0;
};

nlohmann::json SummaryJson(const RestoreSummary& s, const std::string& target) {
  return {{"archive", s.file_name}, {"target", target}, {"bytes", s.bytes},
          {"files", s.files}, {"warnings", s.warnings}};
}

int RunRestore(const RestoreArgs& args) {
  auto snap = ParseSnapshot(args.store, args.snapshot);
  if (!snap) return ReportError(snap.error());
  if (args.rest.empty() || args.rest.size() > 2)
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "restore takes SNAPSHOT [ARCHIVE] TARGET"));
  const bool whole = args.rest.size() == 1;
  if (whole && !args.includes.empty())
    return ReportError(
        Error(ErrorCode::kInvalidArgument, "--include needs an ARCHIVE (root.pxar)"));
  const std::string archive = whole ? "" : args.rest[0];
  const std::string target = args.rest.back();
  auto source = OpenSnapshotSource(args.store, *snap);
  if (!source) return ReportError(source.error());
  Datastore* ds = source->store.get();
  auto key = KeyForSnapshot(args.crypt, ds, source->remote.get(), *snap);
  if (!key) return ReportError(key.error());
  ProgressLine line;
  RestoreObserver observer(line);
  RestoreOptions ro;
  ro.overwrite = args.overwrite;
  ro.jobs = source->jobs;
  ro.key = *key;
  std::vector<RestoreSummary> done;
  Status st;
  if (whole) {
    auto all = ds ? ds->RestoreSnapshot(*snap, target, ro, &observer)
                  : RestoreSnapshot(source->remote, target, ro, &observer);
    if (all) done = std::move(*all);
    else st = std::unexpected(std::move(all).error());
  } else if (!args.includes.empty()) {
    // Part of a pxar archive: only the payload chunks of what is restored.
    auto tree = ds ? ds->OpenTreeArchive(*snap, archive, *key)
                   : OpenTreeArchive(source->remote, archive, source->jobs, *key);
    auto one = tree ? (*tree)->Restore(args.includes, target, ro, &observer)
                    : Result<RestoreSummary>(std::unexpected(tree.error()));
    if (one)
      done.push_back(std::move(*one));
    else
      st = std::unexpected(std::move(one).error());
  } else {
    auto one = ds ? ds->Restore(*snap, archive, target, ro, &observer)
                  : Restore(source->remote, archive, target, ro, &observer);
    if (one) done.push_back(std::move(*one));
    else st = std::unexpected(std::move(one).error());
  }
  line.Clear();
  if (!st) {
    Error e = std::move(st).error();
    if (e.code() == ErrorCode::kAlreadyExists) e.Context("use --overwrite to restore anyway");
    return ReportError(e.Context("restore " + snap->ToString() + (whole ? "" : " " + archive)));
  }
  uint64_t bytes = 0, files = 0, warnings = 0;
  for (const RestoreSummary& s : done) {
    bytes += s.bytes;
    files += s.files;
    warnings += s.warnings;
  }
  if (args.store.json) {
    nlohmann::json archives = nlohmann::json::array();
    for (const RestoreSummary& s : done) archives.push_back(SummaryJson(s, target));
    nlohmann::json j = {{"snapshot", snap->ToString()},
                        {"target", target},
                        {"archives", archives},
                        {"bytes", bytes},
                        {"files", files},
                        {"warnings", warnings},
                        {"duration", line.seconds()}};
    if (ds) AddCacheJson(j, ds->Report());
    PrintJson(j);
  } else if (target != "-") {
    std::fprintf(stderr, "restored %zu archive%s of %s to %s: %s in %llu files, %.1f s (%s)\n",
                 done.size(), done.size() == 1 ? "" : "s", snap->ToString().c_str(),
                 target.c_str(), FormatSize(bytes).c_str(), (unsigned long long)files,
                 line.seconds(), line.Rate(bytes).c_str());
    if (ds) PrintCacheReport(ds->Report());
  }
  return warnings > 0 ? kExitPartial : kExitOk;
}

}  // namespace

void RegisterRestore(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore an archive (a .pxar or .tar into directory TARGET, an image or blob into file "
      "TARGET, '-' for standard output), or without ARCHIVE the whole snapshot into directory "
      "TARGET");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  AddJobsOption(cmd, args->store);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME as printed by backup")->required();
  cmd->add_option("archive_and_target", args->rest,
                  "[ARCHIVE] TARGET: root.pxar, root.tar, disk.img, ... and a directory "
                  "(pxar, tar, whole snapshot) or a file (image, blob)")
      ->required()
      ->expected(1, 2);
  cmd->add_option("--include", args->includes,
                  "pxar: restore only paths matching PATTERN (repeatable; a glob, anchored at the "
                  "root if it holds a '/', else any name at any depth; a directory with all below "
                  "it)");
  cmd->add_flag("--overwrite", args->overwrite,
                "Restore into a non-empty directory or over an existing file");
  AddKeyOptions(cmd, args->crypt, KeyUse::kRead);
  AddNoAdmitFlag(cmd, args->store, "--no-admit",
                 "S3 stores: read through the local cache without adding to it (a bulk restore "
                 "that leaves the cache's working set as it was)");
  cmd->callback([args, &exit_code] { exit_code = RunRestore(*args); });
}

}  // namespace chunkvault::cli

// chunkvault verify [SNAPSHOT] [--json]
#include <cstdio>
#include <mutex>

#include "chunkvault/size.h"
#include "cli/cache_report.h"
#include "cli/common.h"
#include "cli/crypt_options.h"
#include "cli/progress.h"

namespace chunkvault::cli {
namespace {

struct VerifyArgs {
  StoreOptions store;
  std::string snapshot;
  bool keep_bad = false;
  bool use_cache = false;
  CryptArgs crypt;
};

class VerifyPrinter final : public VerifyObserver {
 public:
  explicit VerifyPrinter(ProgressLine& line) : line_(line) {}
  // Chunk callbacks come from worker threads (serialised by verify).
  void OnProgress(uint64_t chunks, uint64_t bytes) override {
    line_.Update([&] {
      return "verify: " + std::to_string(chunks) + " chunks, " + FormatSize(bytes) + ", " +
             line_.Rate(bytes);
    });
  }
  void OnError(const std::string& message) override {
    line_.Clear();
    std::fprintf(stderr, "bad chunk: %s\n", message.c_str());
  }
  void OnSnapshot(const SnapshotRef& snap, bool ok) override {
    line_.Clear();
    std::fprintf(stderr, "%s: %s\n", snap.ToString().c_str(), ok ? "ok" : "FAILED");
  }

 private:
  ProgressLine& line_;
};

// Through a server: its verify task, on the server's own terms (bad
// chunks renamed, read from the bucket).
int RunRemoteVerify(const VerifyArgs& args, const StoreOptions& where,
                    const std::vector<SnapshotRef>& targets) {
  if (args.keep_bad || args.use_cache || !args.store.cache_admit)
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "--keep-bad, --use-cache and --no-admit are the server's to choose; "
                             "leave them out with --repository"));
  if (!args.crypt.keyfile.empty())
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "a server verifies without keys (never send it one): --keyfile "
                             "works with --store, or restore to check an encrypted backup"));
  auto ns = ParseNamespace(args.store);
  if (!ns) return ReportError(ns.error());
  auto remote = ConnectRemote(where);
  if (!remote) return ReportError(remote.error());
  std::optional<BackupGroup> group;
  std::optional<int64_t> time;
  if (!targets.empty()) {
    group = targets[0].group;
    time = targets[0].time;
  }
  auto task = (*remote)->RunVerify(*ns, group, time);
  if (!task) return ReportError(task.error().Context("verify on " + (*remote)->Describe()));
  const nlohmann::json result = task->value("result", nlohmann::json::object());
  if (args.store.json) {
    nlohmann::json out = result.is_object() ? result : nlohmann::json::object();
    out["ok"] = true;
    out["upid"] = task->value("upid", "");
    PrintJson(out);
  } else {
    auto count = [&](const char* key) {
      return result.is_object() && result.contains(key) && result[key].is_number_unsigned()
                 ? result[key].get<uint64_t>()
                 : uint64_t{0};
    };
    std::printf("verified %llu snapshots on %s (%llu failed), %llu chunks: ok\n",
                (unsigned long long)(count("snapshots-ok") + count("snapshots-failed")),
                (*remote)->Describe().c_str(), (unsigned long long)count("snapshots-failed"),
                (unsigned long long)count("chunks"));
    if (count("keyless-chunks") > 0)
      std::printf(
          "%llu encrypted chunks checked by the server without their key: CRC and crypt "
          "mode only\n",
          (unsigned long long)count("keyless-chunks"));
  }
  return kExitOk;
}

int RunVerify(const VerifyArgs& args) {
  std::vector<SnapshotRef> targets;
  if (!args.snapshot.empty()) {
    auto snap = ParseSnapshot(args.store, args.snapshot);
    if (!snap) return ReportError(snap.error());
    targets.push_back(*snap);
  }
  StoreOptions where = args.store;
  if (auto st = ResolveTarget(where); !st) return ReportError(st.error());
  if (!where.repository.empty()) return RunRemoteVerify(args, where, targets);
  auto ds = OpenStore(where);
  if (!ds) return ReportError(ds.error());
  ProgressLine line;
  VerifyPrinter printer(line);
  VerifyOptions vo;
  auto key = CommandKey(args.crypt, /*use_default=*/false);
  if (!key) return ReportError(key.error());
  vo.key = *key;
  vo.rename_bad = !args.keep_bad;
  // --no-admit reads through the cache too, only without admitting.
  vo.use_cache = args.use_cache || !args.store.cache_admit;
  auto report = (*ds)->Verify(targets, vo, args.store.json ? nullptr : &printer);
  line.Clear();
  if (!report) return ReportError(report.error());

  if (args.store.json) {
    nlohmann::json bad = nlohmann::json::array();
    for (const BadChunk& b : report->bad_chunks)
      bad.push_back({{"digest", ToHex(b.digest)}, {"error", b.error}, {"renamed-to", b.renamed_to}});
    nlohmann::json out = {{"ok", report->ok()},
                          {"snapshots-ok", report->snapshots_ok},
                          {"snapshots-failed", report->snapshots_failed},
                          {"skipped", report->skipped},
                          {"chunks", report->chunks},
                          {"chunk-bytes", report->chunk_bytes},
                          {"keyless-chunks", report->keyless_chunks},
                          {"bad-chunks", bad},
                          {"errors", report->errors}};
    AddCacheJson(out, (*ds)->Report());
    PrintJson(out);
  } else {
    for (const std::string& s : report->skipped) std::fprintf(stderr, "skipped %s\n", s.c_str());
    for (const std::string& e : report->errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    std::printf("verified %llu snapshots (%llu failed), %llu chunks, %s: %s\n",
                (unsigned long long)(report->snapshots_ok + report->snapshots_failed),
                (unsigned long long)report->snapshots_failed, (unsigned long long)report->chunks,
                FormatSize(report->chunk_bytes).c_str(), report->ok() ? "ok" : "PROBLEMS FOUND");
    if (report->keyless_chunks > 0)
      std::printf(
          "%llu encrypted chunks checked without their key: CRC and crypt mode only, as "
          "a server can (--keyfile decrypts them and checks every digest)\n",
          (unsigned long long)report->keyless_chunks);
    PrintCacheReport((*ds)->Report());
  }
  return report->ok() ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterVerify(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Re-read and check every chunk of a snapshot (or of all snapshots); corrupt chunks are "
      "renamed <digest>.<n>.bad");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  AddJobsOption(cmd, args->store);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME (default: every snapshot)");
  cmd->add_flag("--keep-bad", args->keep_bad, "Leave corrupt chunks where they are");
  cmd->add_flag("--use-cache", args->use_cache,
                "S3 stores: read through the local cache (cached chunks are checked locally) "
                "instead of reading every chunk from the bucket");
  AddNoAdmitFlag(cmd, args->store, "--no-admit",
                 "S3 stores: read through the cache without adding to it (implies --use-cache)");
  AddKeyOptions(cmd, args->crypt, KeyUse::kExplicit);
  cmd->callback([args, &exit_code] { exit_code = RunVerify(*args); });
}

}  // namespace chunkvault::cli

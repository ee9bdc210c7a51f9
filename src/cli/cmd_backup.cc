// chunkvault backup [--ns NS] [--backup-type T] [--backup-id ID]
//                   [--chunk-size SIZE] [--json] ARCHIVE:PATH ...
#include <unistd.h>

#include <cstdio>

#include "chunkvault/size.h"
#include "cli/cache_report.h"
#include "cli/common.h"
#include "cli/crypt_options.h"
#include "cli/progress.h"

namespace chunkvault::cli {
namespace {

struct BackupArgs {
  StoreOptions store;
  std::string type = "host";
  std::string id;
  std::string chunk_size = "4M";
  std::vector<std::string> sources;
  CryptArgs crypt;
};

struct Source {
  std::string archive;  // root.tar, disk.img
  std::string path;
  bool is_tar;
};

Result<std::vector<Source>> ParseSources(const std::vector<std::string>& specs) {
  std::vector<Source> out;
  for (const std::string& spec : specs) {
    auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
      return Fail(ErrorCode::kInvalidArgument,
                  "'" + spec + "' is not ARCHIVE:PATH (e.g. root.tar:/etc or disk.img:/dev/sdb)");
    Source s{spec.substr(0, colon), spec.substr(colon + 1), false};
    if (s.archive.ends_with(".tar")) s.is_tar = true;
    else if (!s.archive.ends_with(".img"))
      return Fail(ErrorCode::kInvalidArgument,
                  "archive '" + s.archive + "' must end with .tar (a directory) or .img (an image)");
    out.push_back(std::move(s));
  }
  return out;
}

std::string ShortHostname() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string h = host;
  return h.substr(0, h.find('.'));
}

// Counts entries and reports warnings, and drives the progress line.
class BackupObserver final : public TarObserver {
 public:
  BackupObserver(ProgressLine& line, const BackupProgress* progress)
      : line_(line), progress_(progress) {}
  void OnEntry(const std::string&, uint64_t) override {
    ++files_;
    Draw();
  }
  void OnWarning(const std::string& message) override {
    line_.Clear();
    std::fprintf(stderr, "warning: %s\n", message.c_str());
  }
  void Draw() {
    line_.Update([&] {
      uint64_t bytes = progress_->bytes.load();
      return "backup: " + FormatSize(bytes) + ", " + std::to_string(files_) + " files, " +
             line_.Rate(bytes) + ", dedup " + DedupRatio(bytes, progress_->new_bytes.load());
    });
  }
  uint64_t files() const { return files_; }

 private:
  ProgressLine& line_;
  const BackupProgress* progress_;
  uint64_t files_ = 0;
};

int RunBackup(const BackupArgs& args) {
  auto sources = ParseSources(args.sources);
  if (!sources) return ReportError(sources.error());
  auto chunk_size = ParseSize(args.chunk_size);
  if (!chunk_size) return ReportError(chunk_size.error());
  if (auto st = CheckUserChunkSize(*chunk_size); !st) return ReportError(st.error());
  BackupOptions bo;
  auto type = ParseBackupType(args.type);
  if (!type) return ReportError(type.error());
  bo.type = *type;
  bo.id = args.id.empty() ? ShortHostname() : args.id;
  auto ns = ParseNamespace(args.store);
  if (!ns) return ReportError(ns.error());
  bo.ns = *ns;
  if (auto st = ApplyBackupCrypt(args.crypt, bo); !st) return ReportError(st.error());

  StoreOptions target = args.store;
  if (auto st = ResolveTarget(target); !st) return ReportError(st.error());
  std::unique_ptr<Datastore> ds;
  std::unique_ptr<Remote> remote;
  Result<std::unique_ptr<BackupSession>> session = Fail(ErrorCode::kInternal, "no session");
  if (!target.repository.empty()) {
    auto r = ConnectRemote(target);
    if (!r) return ReportError(r.error());
    remote = std::move(*r);
    session = remote->StartBackup(bo);
  } else {
    auto opened = OpenStore(target);
    if (!opened) return ReportError(opened.error());
    ds = std::move(*opened);
    session = ds->StartBackup(bo);
  }
  if (!session) return ReportError(session.error());

  ProgressLine line;
  BackupObserver observer(line, &(*session)->progress());
  (*session)->SetProgressCallback([&] { observer.Draw(); });
  uint64_t warnings = 0;
  for (const Source& s : *sources) {
    Result<ArchiveSummary> r;
    if (s.is_tar) {
      TarStats stats;
      r = (*session)->AddTar(s.archive, s.path, *chunk_size, &observer, &stats);
      warnings += stats.warnings;
    } else {
      r = (*session)->AddImage(s.archive, s.path, *chunk_size);
    }
    if (!r) {
      line.Clear();
      return ReportError(std::move(r).error().Context("backup of " + s.path));
    }
  }
  auto summary = (*session)->Finish();
  line.Clear();
  if (!summary) return ReportError(summary.error());

  const double seconds = line.seconds();
  const std::string snap = summary->snapshot.ToString();
  if (args.store.json) {
    nlohmann::json archives = nlohmann::json::array();
    for (const ArchiveSummary& a : summary->archives)
      archives.push_back({{"filename", a.file_name},
                          {"size", a.size},
                          {"chunks", a.chunks},
                          {"new-chunks", a.new_chunks},
                          {"new-bytes", a.new_bytes},
                          {"stored-bytes", a.stored_bytes}});
    nlohmann::json j = {{"snapshot", snap},
                        {"ns", bo.ns.ToString()},
                        {"backup-type", BackupTypeName(summary->snapshot.group.type)},
                        {"backup-id", summary->snapshot.group.id},
                        {"backup-time", summary->snapshot.time},
                        {"archives", archives},
                        {"files", observer.files()},
                        {"bytes", summary->bytes},
                        {"chunks", summary->chunks},
                        {"new-chunks", summary->new_chunks},
                        {"new-bytes", summary->new_bytes},
                        {"stored-bytes", summary->stored_bytes},
                        {"dedup-ratio", summary->new_bytes == 0
                                            ? nlohmann::json(nullptr)
                                            : nlohmann::json(double(summary->bytes) /
                                                             double(summary->new_bytes))},
                        {"warnings", warnings},
                        {"duration", seconds}};
    if (ds) AddCacheJson(j, ds->Report());
    if (remote) j["repository"] = remote->Describe();
    PrintJson(j);
  } else {
    std::printf("%s\n", snap.c_str());
    std::fprintf(stderr,
                 "%s in %.1f s: %s in %llu files, %llu chunks of which %llu new "
                 "(%s, %s stored), dedup %s\n",
                 snap.c_str(), seconds, FormatSize(summary->bytes).c_str(),
                 (unsigned long long)observer.files(), (unsigned long long)summary->chunks,
                 (unsigned long long)summary->new_chunks, FormatSize(summary->new_bytes).c_str(),
                 FormatSize(summary->stored_bytes).c_str(),
                 DedupRatio(summary->bytes, summary->new_bytes).c_str());
    if (ds) PrintCacheReport(ds->Report());
  }
  if (warnings > 0) {
    std::fprintf(stderr,
                 "chunkvault: warning: %llu entries could not be read completely; "
                 "the snapshot was written without them\n",
                 (unsigned long long)warnings);
    return kExitPartial;
  }
  return kExitOk;
}

}  // namespace

void RegisterBackup(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Back up directories (ARCHIVE ending .tar) and images (ARCHIVE ending .img) into one "
      "snapshot; prints the snapshot as TYPE/ID/TIME");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  AddJobsOption(cmd, args->store);
  cmd->add_option("--backup-type", args->type, "vm | ct | host (default: host)")
      ->check(CLI::IsMember({"vm", "ct", "host"}));
  cmd->add_option("--backup-id", args->id, "Backup id (default: the short hostname)")
      ->check(CLI::Validator(
          [](std::string& id) -> std::string {
            return id.empty() ? "must not be empty (leave it out for the short hostname)" : "";
          },
          "ID"));
  cmd->add_option("--chunk-size", args->chunk_size,
                  "Average chunk size for .tar, fixed size for .img: 64K ... 4M (default 4M)");
  AddNoAdmitFlag(cmd, args->store, "--no-cache",
                 "S3 stores: upload without keeping chunks in the local cache (only empty "
                 "markers are left, so later backups still skip what the bucket has)");
  AddKeyOptions(cmd, args->crypt, KeyUse::kBackup);
  cmd->add_option("sources", args->sources, "ARCHIVE:PATH, e.g. root.tar:/ or disk.img:/dev/sdb")
      ->required();
  cmd->callback([args, &exit_code] { exit_code = RunBackup(*args); });
}

}  // namespace chunkvault::cli

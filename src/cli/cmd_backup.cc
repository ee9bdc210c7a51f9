// chunkvault backup [--ns NS] [--backup-type T] [--backup-id ID]
//                   [--chunk-size SIZE] [--change-detection-mode metadata|data|legacy]
//                   [--all-file-systems] [--include-dev PATH] [--json] ARCHIVE:PATH ...
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
  std::string change_detection_mode = "metadata";
  bool all_file_systems = false;
  std::vector<std::string> include_devices;
  std::vector<std::string> excludes;
};

struct Source {
  enum class Kind { kTar, kPxar, kImage };
  std::string archive;  // root.pxar, root.tar, disk.img
  std::string path;
  Kind kind;
};

Result<std::vector<Source>> ParseSources(const std::vector<std::string>& specs) {
  std::vector<Source> out;
  for (const std::string& spec : specs) {
    auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
      return Fail(ErrorCode::kInvalidArgument,
                  "'" + spec + "' is not ARCHIVE:PATH (e.g. root.pxar:/etc or disk.img:/dev/sdb)");
    Source s{spec.substr(0, colon), spec.substr(colon + 1), Source::Kind::kImage};
    if (s.archive.ends_with(".pxar"))
      s.kind = Source::Kind::kPxar;
    else if (s.archive.ends_with(".tar"))
      s.kind = Source::Kind::kTar;
    else if (!s.archive.ends_with(".img"))
      return Fail(ErrorCode::kInvalidArgument,
                  "archive '" + s.archive +
                      "' must end with .pxar or .tar (a directory) or .img (an image)");
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
  void OnEntry(const std::string& path, uint64_t) override {
    ++files_;
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos && path.compare(0, slash, dir_) != 0)
      dir_ = path.substr(0, slash);
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
             line_.Rate(bytes) + ", dedup " + DedupRatio(bytes, progress_->new_bytes.load()) +
             (dir_.empty() ? "" : ", " + dir_);
    });
  }
  uint64_t files() const { return files_; }

 private:
  ProgressLine& line_;
  const BackupProgress* progress_;
  uint64_t files_ = 0;
  std::string dir_;  // the directory of the entry last seen
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
  PxarOptions pxar;
  pxar.mode = args.change_detection_mode == "legacy" ? ChangeDetection::kLegacy
              : args.change_detection_mode == "data" ? ChangeDetection::kData
                                                     : ChangeDetection::kMetadata;
  pxar.all_file_systems = args.all_file_systems;
  pxar.include_devices = args.include_devices;
  pxar.excludes = args.excludes;
  uint64_t warnings = 0;
  ReuseStats reuse;  // of the pxar archives
  bool detected = false;  // some archive was written against a previous one
  for (const Source& s : *sources) {
    Result<ArchiveSummary> r;
    TarStats stats;
    switch (s.kind) {
      case Source::Kind::kPxar:
        r = (*session)->AddPxar(s.archive, s.path, *chunk_size, pxar, &observer, &stats);
        break;
      case Source::Kind::kTar:
        r = (*session)->AddTar(s.archive, s.path, *chunk_size, &observer, &stats);
        break;
      case Source::Kind::kImage:
        r = (*session)->AddImage(s.archive, s.path, *chunk_size);
        break;
    }
    warnings += stats.warnings;
    const ReuseStats& sr = stats.reuse;
    if (sr.files_reused + sr.files_reencoded + sr.files_new > 0) detected = true;
    reuse.files_reused += sr.files_reused;
    reuse.files_reencoded += sr.files_reencoded;
    reuse.files_new += sr.files_new;
    reuse.bytes_read += sr.bytes_read;
    reuse.bytes_reused += sr.bytes_reused;
    reuse.chunks_reused += sr.chunks_reused;
    reuse.padding += sr.padding;
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
    if (detected)
      j["reuse"] = {{"files-reused", reuse.files_reused},
                    {"files-reencoded", reuse.files_reencoded},
                    {"files-new", reuse.files_new},
                    {"bytes-read", reuse.bytes_read},
                    {"bytes-reused", reuse.bytes_reused},
                    {"chunks-reused", reuse.chunks_reused},
                    {"padding", reuse.padding}};
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
    if (detected)
      std::fprintf(stderr,
                   "unchanged since the last backup: %llu files, %s reused in %llu chunks "
                   "(%s padding); read: %llu files it had (changed, or not worth reusing) "
                   "and %llu new ones, %s\n",
                   (unsigned long long)reuse.files_reused, FormatSize(reuse.bytes_reused).c_str(),
                   (unsigned long long)reuse.chunks_reused, FormatSize(reuse.padding).c_str(),
                   (unsigned long long)reuse.files_reencoded,
                   (unsigned long long)reuse.files_new, FormatSize(reuse.bytes_read).c_str());
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
      "Back up directories (ARCHIVE ending .pxar, PBS's format, or .tar) and images (ARCHIVE "
      "ending .img) into one snapshot; prints the snapshot as TYPE/ID/TIME");
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
                  "Average chunk size for .pxar and .tar, fixed size for .img: 64K ... 4M "
                  "(default 4M)");
  cmd->add_option("--change-detection-mode", args->change_detection_mode,
                  ".pxar: metadata (default; NAME.mpxar.didx with the metadata and "
                  "NAME.ppxar.didx with the file data, as PBS since 3.2.5; files unchanged "
                  "since the group's last backup are not read), data (the same pair, every "
                  "file read) or legacy (one NAME.pxar.didx)")
      ->check(CLI::IsMember({"metadata", "data", "legacy"}));
  cmd->add_flag("--all-file-systems", args->all_file_systems,
                ".pxar: enter file systems mounted below the directory (default: mount points "
                "are stored empty)");
  cmd->add_option("--exclude", args->excludes,
                  ".pxar: leave out paths matching PATTERN (repeatable; a glob, anchored at the "
                  "directory if it holds a '/', else any name at any depth; a trailing '/' "
                  "matches directories only; .pxarexclude files in the tree add their own)");
  cmd->add_option("--include-dev", args->include_devices,
                  ".pxar: a mount point whose file system is entered (repeatable)");
  AddNoAdmitFlag(cmd, args->store, "--no-cache",
                 "S3 stores: upload without keeping chunks in the local cache (only empty "
                 "markers are left, so later backups still skip what the bucket has)");
  AddKeyOptions(cmd, args->crypt, KeyUse::kBackup);
  cmd->add_option("sources", args->sources, "ARCHIVE:PATH, e.g. root.pxar:/ or disk.img:/dev/sdb")
      ->required();
  cmd->callback([args, &exit_code] { exit_code = RunBackup(*args); });
}

}  // namespace chunkvault::cli

#include "cli/common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iostream>

namespace chunkvault::cli {

void AddStoreOptions(CLI::App* cmd, StoreOptions& opts, bool with_ns, bool with_json,
                     bool remote_ok) {
  opts.remote_ok = remote_ok;
  if (remote_ok) {
    cmd->add_option("--store", opts.store, "Datastore directory (or CHUNKVAULT_STORE)");
    cmd->add_option("--repository", opts.repository,
                    "A server's datastore: [[AUTH-ID@]HOST[:PORT]:]STORE (or "
                    "CHUNKVAULT_REPOSITORY, PBS_REPOSITORY); the secret comes from "
                    "CHUNKVAULT_PASSWORD or PBS_PASSWORD");
    cmd->add_option("--fingerprint", opts.fingerprint,
                    "The server certificate's SHA-256 fingerprint (or CHUNKVAULT_FINGERPRINT, "
                    "PBS_FINGERPRINT)");
  } else {
    cmd->add_option("--store", opts.store, "Datastore directory")
        ->envname("CHUNKVAULT_STORE")
        ->required();
  }
  if (with_ns) cmd->add_option("--ns", opts.ns, "Namespace, e.g. 'site/prod' (default: root)");
  if (with_json) cmd->add_flag("--json", opts.json, "Print JSON for scripts");
}

void AddJobsOption(CLI::App* cmd, StoreOptions& opts) {
  cmd->add_option("--jobs", opts.jobs,
                  "Chunks hashed, compressed, read or sent at once (default: one per core; "
                  "S3 stores: at least 8, the requests in flight)");
}

void AddNoAdmitFlag(CLI::App* cmd, StoreOptions& opts, const std::string& name,
                    const std::string& help) {
  cmd->add_flag_callback(name, [&opts] { opts.cache_admit = false; }, help);
}

Result<std::unique_ptr<Datastore>> OpenStore(const StoreOptions& opts) {
  OpenOptions o;
  o.jobs = opts.jobs;
  o.cache_admit = opts.cache_admit;
  o.on_s3_retry = ReportS3Retry;
  return Datastore::Open(Env::Default(), opts.store, o);
}

namespace {
std::string FromEnv(std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return v;
  return "";
}
}  // namespace

Status ResolveTarget(StoreOptions& opts) {
  if (!opts.store.empty() && !opts.repository.empty())
    return Fail(ErrorCode::kInvalidArgument, "give --store or --repository, not both");
  if (!opts.store.empty() || !opts.repository.empty()) return {};
  opts.store = FromEnv({"CHUNKVAULT_STORE"});
  if (opts.store.empty()) opts.repository = FromEnv({"CHUNKVAULT_REPOSITORY", "PBS_REPOSITORY"});
  if (opts.store.empty() && opts.repository.empty())
    return Fail(ErrorCode::kInvalidArgument,
                "no datastore: give --store or --repository (or set CHUNKVAULT_STORE, "
                "CHUNKVAULT_REPOSITORY)");
  return {};
}

Result<std::unique_ptr<Remote>> ConnectRemote(const StoreOptions& opts) {
  RemoteOptions o;
  o.repository = opts.repository;
  o.secret = FromEnv({"CHUNKVAULT_PASSWORD", "PBS_PASSWORD"});
  o.fingerprint = opts.fingerprint.empty() ? FromEnv({"CHUNKVAULT_FINGERPRINT", "PBS_FINGERPRINT"})
                                           : opts.fingerprint;
  o.jobs = opts.jobs;
  o.cache_admit = opts.cache_admit;
  return Remote::Connect(o);
}

Result<SnapshotSource> OpenSnapshotSource(const StoreOptions& opts, const SnapshotRef& snap) {
  StoreOptions where = opts;
  CV_RETURN_IF_ERROR(ResolveTarget(where));
  SnapshotSource source;
  source.jobs = where.jobs;
  if (!where.repository.empty()) {
    CV_ASSIGN_OR_RETURN(auto remote, ConnectRemote(where));
    CV_ASSIGN_OR_RETURN(source.remote, remote->OpenSnapshot(snap));
  } else {
    CV_ASSIGN_OR_RETURN(source.store, OpenStore(where));
  }
  return source;
}

Result<BackupNamespace> ParseNamespace(const StoreOptions& opts) {
  return BackupNamespace::Parse(opts.ns);
}

Result<SnapshotRef> ParseSnapshot(const StoreOptions& opts, const std::string& text) {
  CV_ASSIGN_OR_RETURN(BackupNamespace ns, ParseNamespace(opts));
  return SnapshotRef::Parse(ns, text);
}

Result<BackupGroup> ParseGroup(const StoreOptions& opts, const std::string& text) {
  BackupGroup group;
  CV_ASSIGN_OR_RETURN(group.ns, ParseNamespace(opts));
  const size_t slash = text.find('/');
  if (slash == std::string::npos || text.find('/', slash + 1) != std::string::npos)
    return Fail(ErrorCode::kInvalidArgument, "'" + text + "' is not a group (TYPE/ID)");
  CV_ASSIGN_OR_RETURN(group.type, ParseBackupType(text.substr(0, slash)));
  group.id = text.substr(slash + 1);
  CV_RETURN_IF_ERROR(CheckBackupId(group.id));
  return group;
}

int ReportError(const Error& error) {
  std::fflush(stdout);
  std::fprintf(stderr, "chunkvault: error: %s\n", error.message().c_str());
  return error.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

void ReportS3Retry(const std::string& message) {
  static const bool terminal = StderrIsTerminal();
  // One write per notice: lines from several threads do not interleave.
  const std::string line =
      std::string(terminal ? "\r\033[K" : "") + "chunkvault: retrying: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }
bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::string DedupRatio(uint64_t total, uint64_t new_bytes) {
  if (new_bytes == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fx", double(total) / double(new_bytes));
  return buf;
}

}  // namespace chunkvault::cli

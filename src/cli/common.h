// Shared pieces of the command line: options every command takes, opening
// the store, and turning errors into messages and exit codes.
//
// Exit codes:
//   0  success
//   1  the operation failed (the message on stderr says what and where)
//   2  the command line is wrong
//   3  backup written, but some source entries could not be read
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chunkvault/backup_ref.h"
#include "chunkvault/datastore.h"
#include "chunkvault/remote.h"
#include "chunkvault/snapshot_reader.h"
#include "chunkvault/status.h"

namespace chunkvault::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitPartial = 3;

struct StoreOptions {
  std::string store;  // --store or CHUNKVAULT_STORE
  std::string ns;     // --ns
  size_t jobs = 0;    // --jobs (0: the datastore's default)
  bool json = false;  // --json
  // S3 stores: this run may add chunks to the local cache (false with
  // backup --no-cache, restore/cat/verify --no-admit).
  bool cache_admit = true;
  // A server instead of a store (commands that can be clients):
  // "[[auth-id@]host[:port]:]store", and its certificate's fingerprint.
  std::string repository;
  std::string fingerprint;
  bool remote_ok = false;
};

// Adds --store (with CHUNKVAULT_STORE), and (if asked) --ns and --json.
// With `remote_ok` also --repository and --fingerprint: the command then
// runs against a server (see ResolveTarget).
void AddStoreOptions(CLI::App* cmd, StoreOptions& opts, bool with_ns, bool with_json,
                     bool remote_ok = false);
// For a command that can be a client: a store or a repository, from the
// command line (giving both is an error), else from CHUNKVAULT_STORE, else
// CHUNKVAULT_REPOSITORY, else PBS_REPOSITORY. Fills opts.store or
// opts.repository.
Status ResolveTarget(StoreOptions& opts);
// Connects to opts.repository with the secret of CHUNKVAULT_PASSWORD (or
// PBS_PASSWORD) and the fingerprint of --fingerprint (or
// CHUNKVAULT_FINGERPRINT, PBS_FINGERPRINT).
Result<std::unique_ptr<Remote>> ConnectRemote(const StoreOptions& opts);
// Adds --jobs, for the commands that work on chunks (backup, restore, cat,
// verify).
void AddJobsOption(CLI::App* cmd, StoreOptions& opts);

// Adds a flag that, when given, keeps the run from adding chunks to the
// cache (`name`: --no-cache or --no-admit).
void AddNoAdmitFlag(CLI::App* cmd, StoreOptions& opts, const std::string& name,
                    const std::string& help);

Result<std::unique_ptr<Datastore>> OpenStore(const StoreOptions& opts);

// Where a reading command (restore, cat) reads a snapshot: a store, or a
// server's reader session of the snapshot (ResolveTarget decides).
struct SnapshotSource {
  std::unique_ptr<Datastore> store;        // set for a store
  std::shared_ptr<SnapshotReader> remote;  // set for a server
  size_t jobs = 0;                         // --jobs
};
Result<SnapshotSource> OpenSnapshotSource(const StoreOptions& opts, const SnapshotRef& snap);
Result<BackupNamespace> ParseNamespace(const StoreOptions& opts);
Result<SnapshotRef> ParseSnapshot(const StoreOptions& opts, const std::string& text);
// "TYPE/ID" in the namespace of --ns.
Result<BackupGroup> ParseGroup(const StoreOptions& opts, const std::string& text);

// Prints "chunkvault: error: <message>" and returns the exit code for it.
int ReportError(const Error& error);
// Prints that an S3 request failed and will be retried ("chunkvault:
// retrying: ..."), from any thread; on a terminal it first clears the
// progress line, which its next redraw brings back.
void ReportS3Retry(const std::string& message);

// Prints JSON to stdout (one document, pretty, newline-terminated).
void PrintJson(const nlohmann::json& j);

bool StderrIsTerminal();
bool StdoutIsTerminal();

// "3.2x" or "-" when nothing new was stored.
std::string DedupRatio(uint64_t total, uint64_t new_bytes);

// Every command: registered by a function in its own file.
using CommandResult = int;
void RegisterInit(CLI::App& app, int& exit_code);
void RegisterBackup(CLI::App& app, int& exit_code);
void RegisterSnapshots(CLI::App& app, int& exit_code);
void RegisterRestore(CLI::App& app, int& exit_code);
void RegisterCat(CLI::App& app, int& exit_code);
void RegisterLs(CLI::App& app, int& exit_code);
void RegisterFind(CLI::App& app, int& exit_code);
void RegisterVerify(CLI::App& app, int& exit_code);
void RegisterForget(CLI::App& app, int& exit_code);
void RegisterProtect(CLI::App& app, int& exit_code);
void RegisterNotes(CLI::App& app, int& exit_code);
void RegisterInspect(CLI::App& app, int& exit_code);
void RegisterS3Refresh(CLI::App& app, int& exit_code);
void RegisterCache(CLI::App& app, int& exit_code);
void RegisterGc(CLI::App& app, int& exit_code);
void RegisterPrune(CLI::App& app, int& exit_code);
void RegisterNamespace(CLI::App& app, int& exit_code);
void RegisterKey(CLI::App& app, int& exit_code);

}  // namespace chunkvault::cli

// chunkvault as a client of a backup server (chunkvaultd, or PBS): PBS's
// repository "[[auth-id@]host[:port]:]store", its certificate pinned by
// fingerprint, API tokens or a user's password (docs/server.md).
//
// Thread-safety: a Remote is used by one thread at a time; a BackupSession
// it starts is as chunkvault/backup.h says.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chunkvault/backup.h"
#include "chunkvault/backup_ref.h"
#include "chunkvault/prune.h"
#include "chunkvault/snapshot_reader.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct RemoteOptions {
  std::string repository;   // "[[auth-id@]host[:port]:]store"
  std::string secret;       // the token's secret or the user's password
  std::string fingerprint;  // "aa:bb:..."; empty: only a certificate OpenSSL trusts
  size_t jobs = 0;          // chunk workers of a backup (0: 8 or one per core)
  // false: backups ask the server to keep their chunks out of its cache
  // (PBS's no-cache), as backup --no-cache does locally.
  bool cache_admit = true;
};

class Remote {
 public:
  // Connects once to check the certificate and the credentials.
  static Result<std::unique_ptr<Remote>> Connect(const RemoteOptions& options);
  virtual ~Remote() = default;

  // "auth-id@host:port:store".
  virtual std::string Describe() const = 0;
  // A backup session on a connection of its own.
  virtual Result<std::unique_ptr<BackupSession>> StartBackup(const BackupOptions& options) = 0;
  // The snapshots of `ns` the server lets this auth-id see, in PBS's JSON
  // ("backup-type", "backup-id", "backup-time", "files", "size", "owner",
  // "protected"...).
  virtual Result<nlohmann::json> ListSnapshots(const BackupNamespace& ns) = 0;
  // Removes a snapshot (the server checks the rights: Datastore.Modify, or
  // Datastore.Prune on one's own group).
  virtual Status Forget(const SnapshotRef& snap) = 0;
  // Namespaces (PBS's GET and POST .../namespace): those below `parent`
  // the server lets this auth-id see, and a new one (Datastore.Modify on
  // its parent).
  virtual Result<std::vector<BackupNamespace>> ListNamespaces(const BackupNamespace& parent) = 0;
  virtual Status CreateNamespace(const BackupNamespace& ns) = 0;
  // A snapshot read over PBS's reader protocol, on a connection of its
  // own, for chunkvault/restore.h's functions (restore, cat). The server
  // keeps the snapshot from removal while the reader lives.
  virtual Result<std::unique_ptr<SnapshotReader>> OpenSnapshot(const SnapshotRef& snap) = 0;
  // Prunes `group`, or each group of `ns` the server lists, by PBS's rules;
  // the server decides (as Forget). The report's entries are the server's
  // answer: kept (kKeep or kProtected) or removed (kRemove).
  virtual Result<PruneReport> Prune(const BackupNamespace& ns,
                                    const std::optional<BackupGroup>& group,
                                    const PruneOptions& options, bool dry_run) = 0;
  // Starts a server task and waits for its end: garbage collection of the
  // store, or verification of `group`'s snapshots (or `snap`, or the whole
  // namespace). The answer is PBS's task status ("upid", "exitstatus"...)
  // with the task's report in "result"; a task that failed is an error
  // carrying its exit status.
  virtual Result<nlohmann::json> RunGc() = 0;
  virtual Result<nlohmann::json> RunVerify(const BackupNamespace& ns,
                                           const std::optional<BackupGroup>& group,
                                           std::optional<int64_t> time) = 0;
};

}  // namespace chunkvault

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
#include <string>

#include "chunkvault/backup.h"
#include "chunkvault/backup_ref.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct RemoteOptions {
  std::string repository;   // "[[auth-id@]host[:port]:]store"
  std::string secret;       // the token's secret or the user's password
  std::string fingerprint;  // "aa:bb:..."; empty: only a certificate OpenSSL trusts
  size_t jobs = 0;          // chunk workers of a backup (0: 8 or one per core)
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
};

}  // namespace chunkvault

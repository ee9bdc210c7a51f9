// A backup sent to a server over PBS's backup protocol, as the public
// BackupSession (chunkvault/backup.h), so that the backup command runs the
// same against a local store and a server.
#pragma once

#include <functional>
#include <memory>

#include "chunkvault/backup.h"
#include "chunkvault/snapshot_reader.h"
#include "client/connection.h"
#include "client/repository.h"

namespace chunkvault::client {

// A reader of a snapshot on the same server, on a connection of its own
// (metadata change detection reads the previous snapshot's metadata).
using OpenReader = std::function<Result<std::unique_ptr<SnapshotReader>>(const SnapshotRef&)>;

// Upgrades `connection` (spent) to a backup session of `options`' group
// in `repo`'s store; `jobs` threads hash, compress and upload chunks
// (at least 8: they also wait on the server's answers). `no_cache` asks
// the server to keep the chunks out of its cache.
Result<std::unique_ptr<BackupSession>> StartRemoteBackup(std::unique_ptr<Connection> connection,
                                                         const Repository& repo,
                                                         const BackupOptions& options, size_t jobs,
                                                         bool no_cache, OpenReader open_reader);

}  // namespace chunkvault::client

// A backup sent to a server over PBS's backup protocol, as the public
// BackupSession (chunkvault/backup.h), so that the backup command runs the
// same against a local store and a server.
#pragma once

#include <memory>

#include "chunkvault/backup.h"
#include "client/connection.h"
#include "client/repository.h"

namespace chunkvault::client {

// Upgrades `connection` (spent) to a backup session of `options`' group
// in `repo`'s store; `jobs` threads hash, compress and upload chunks
// (at least 8: they also wait on the server's answers). `no_cache` asks
// the server to keep the chunks out of its cache.
Result<std::unique_ptr<BackupSession>> StartRemoteBackup(std::unique_ptr<Connection> connection,
                                                         const Repository& repo,
                                                         const BackupOptions& options, size_t jobs,
                                                         bool no_cache);

}  // namespace chunkvault::client

// A snapshot read from a server over PBS's reader protocol, as the public
// SnapshotReader (chunkvault/snapshot_reader.h), so that restore and cat
// run the same against a local store and a server (chunkvault/restore.h).
#pragma once

#include <memory>

#include "chunkvault/snapshot_reader.h"
#include "client/connection.h"
#include "client/repository.h"

namespace chunkvault::client {

// Upgrades `connection` (spent) to a reader session of `snap` in `repo`'s
// store. The server holds the snapshot until the reader is destroyed.
Result<std::unique_ptr<SnapshotReader>> StartRemoteReader(std::unique_ptr<Connection> connection,
                                                          const Repository& repo,
                                                          const SnapshotRef& snap);

}  // namespace chunkvault::client

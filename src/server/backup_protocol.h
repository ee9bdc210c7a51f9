// PBS's backup protocol (PROTOCOL.md §3): the HTTP/2 session a client gets
// by upgrading GET /api2/json/backup. Index writers, the session's
// known-chunk map, chunk and blob uploads, appends, closes and finish,
// each with the checks PBS's server makes, over an UploadSession of the
// datastore (chunkvault/upload.h). Everything the client sends is checked
// before it touches the store; a failed call answers 4xx and leaves the
// session usable, as in PBS.
//
// Thread-safety: Handle runs on many workers at once (chunk uploads in
// parallel; the other calls take the session's lock).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "chunkvault/datastore.h"
#include "server/auth_id.h"
#include "server/http_service.h"
#include "server/metrics.h"

namespace chunkvault::server {

struct BackupSessionParams {
  std::shared_ptr<Datastore> store;
  std::string store_name;
  UploadOptions upload;  // ns, type, id, time, owner, may_use_group
  AuthId who;
  std::string peer;
  // The session's log line when it ends.
  std::function<void(const std::string&)> log;
  ServerMetrics* metrics = nullptr;  // outlives the session
};

// Starts the upload (locks, owner, last-backup checks) and returns the
// session that serves the HTTP/2 phase.
Result<std::unique_ptr<ProtocolSession>> OpenBackupProtocol(BackupSessionParams params);

}  // namespace chunkvault::server

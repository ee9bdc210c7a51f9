// PBS's reader protocol (PROTOCOL.md §4.1): the HTTP/2 session a client
// gets by upgrading GET /api2/json/reader. It serves one snapshot's files
// as stored and the chunks its downloaded indexes name — a chunk is served
// only after an index listing it was downloaded in the session, as PBS
// does. The snapshot stays locked (shared) until the session ends.
//
// Thread-safety: Handle runs on many workers at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "chunkvault/datastore.h"
#include "server/auth_id.h"
#include "server/http_service.h"
#include "server/metrics.h"

namespace chunkvault::server {

struct ReaderSessionParams {
  std::shared_ptr<Datastore> store;
  std::string store_name;
  std::unique_ptr<SnapshotReader> reader;
  AuthId who;
  std::string peer;
  std::function<void(const std::string&)> log;
  ServerMetrics* metrics = nullptr;  // outlives the session
};

std::unique_ptr<ProtocolSession> OpenReaderProtocol(ReaderSessionParams params);

}  // namespace chunkvault::server

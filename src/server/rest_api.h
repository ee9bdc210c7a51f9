// chunkvaultd's HTTP/1.1 API (PROTOCOL.md §2, §4.2): ticket login, the
// REST calls PBS's client makes, and the upgrade of /api2/json/backup and
// /api2/json/reader to their HTTP/2 protocols. Every request but the login
// is authenticated (server/auth.h) against the configuration as it is on
// disk at that moment, and authorised by the ACL; a failed authentication
// is answered 401 three seconds after the request arrived, as PBS does, and
// logged with the client and auth-id, never the secret.
//
// Thread-safety: Handle may run on many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "chunkvault/env.h"
#include "server/auth.h"
#include "server/datastore_pool.h"
#include "server/http_service.h"
#include "server/metrics.h"
#include "server/server_config.h"
#include "server/tasks.h"

namespace chunkvault::server {

class RestApi final : public HttpService {
 public:
  using Log = std::function<void(const std::string&)>;
  // Reads (or makes) the ticket key in the configuration directory.
  static Result<std::unique_ptr<RestApi>> Create(Env* env, const std::string& config_dir, Log log);

  Handled Handle(HttpRequest request) override;

 private:
  RestApi(Env* env, const std::string& config_dir, TicketKeys keys, Log log);
  Result<HttpResponse> Route(const HttpRequest& request, const std::vector<std::string>& path,
                             const AuthId& who, const ServerConfig& config, Handled& handled);
  // What a call acts on: a store, the namespace of `params`, and what
  // `who` may do there; refused (403) unless `who` holds one of `any_of`
  // (any privilege at all if 0).
  struct Scope {
    std::string store_name;
    BackupNamespace ns;
    Privileges privileges;
    std::shared_ptr<Datastore> store;
  };
  Result<Scope> ScopeOf(const std::string& store_name, const Params& params, const AuthId& who,
                        const ServerConfig& config, Privileges any_of, const char* ns_param = "ns");
  // GET and POST .../{store}/namespace (PBS's list and create; the scope
  // is the "parent" namespace).
  Result<HttpResponse> Namespaces(const HttpRequest& request, const Params& params,
                                  const std::string& store_name, const AuthId& who,
                                  const ServerConfig& config);
  // GET /api2/json/backup: checks, starts the upload and answers 101 with
  // the session in `handled`.
  Result<HttpResponse> UpgradeToBackup(const HttpRequest& request, const AuthId& who,
                                       const ServerConfig& config, Handled& handled);
  // GET /api2/json/reader: the same for a restore of one snapshot.
  Result<HttpResponse> UpgradeToReader(const HttpRequest& request, const AuthId& who,
                                       const ServerConfig& config, Handled& handled);

  // GET /metrics (Datastore.Audit on /datastore).
  Result<HttpResponse> Metrics(const AuthId& who, const ServerConfig& config);
  // POST and GET .../{store}/gc, POST .../{store}/verify: tasks.
  Result<HttpResponse> StartGc(std::shared_ptr<Datastore> store, const std::string& name,
                               const AuthId& who);
  Result<HttpResponse> GcStatus(const std::string& name);
  Result<HttpResponse> StartVerify(const Params& params, const Scope& scope, const AuthId& who);
  // GET /nodes/{node}/tasks/{upid}/status: its starter's, or with audit.
  Result<HttpResponse> TaskStatus(const std::string& upid, const AuthId& who,
                                  const ServerConfig& config);

  Env* env_;
  ConfigDir config_dir_;
  Authenticator auth_;
  DatastorePool datastores_;
  Log log_;
  ServerMetrics metrics_;
  TaskRegistry tasks_;  // last: its destructor waits for running tasks
};

}  // namespace chunkvault::server

// The datastores chunkvaultd serves, each opened once and shared by every
// session of the process (one chunk cache per store, one owner of it).
//
// Thread-safety: Get may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "chunkvault/datastore.h"
#include "server/server_config.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {

class DatastorePool {
 public:
  explicit DatastorePool(Env* env) : env_(env) {}

  // The store `name` of `config`, opened at its first use (kNotFound
  // "datastore 'x' does not exist" for a name the configuration lacks).
  // A store whose path changed in the configuration is opened anew.
  Result<std::shared_ptr<Datastore>> Get(const ServerConfig& config, const std::string& name);
  // The stores opened so far, by name.
  std::vector<std::pair<std::string, std::shared_ptr<Datastore>>> Open() const;

 private:
  Env* env_;
  mutable std::mutex mu_;
  // name -> (path, store)
  std::map<std::string, std::pair<std::string, std::shared_ptr<Datastore>>> open_
      CV_GUARDED_BY(mu_);
};

}  // namespace chunkvault::server

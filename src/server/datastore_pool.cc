#include "server/datastore_pool.h"

namespace chunkvault::server {

Result<std::shared_ptr<Datastore>> DatastorePool::Get(const ServerConfig& config,
                                                      const std::string& name) {
  const DatastoreEntry* entry = config.FindDatastore(name);
  if (!entry) return Fail(ErrorCode::kNotFound, "datastore '" + name + "' does not exist");
  std::lock_guard lock(mu_);
  auto it = open_.find(name);
  if (it != open_.end() && it->second.first == entry->path) return it->second.second;
  // Opening reads a few small files; holding the lock keeps one store
  // from being opened twice at once.
  OpenOptions options;
  auto store = Datastore::Open(env_, entry->path, options);
  if (!store) return std::unexpected(Error(store.error()).Context("datastore '" + name + "'"));
  std::shared_ptr<Datastore> shared(std::move(*store));
  open_[name] = {entry->path, shared};
  return shared;
}

std::vector<std::pair<std::string, std::shared_ptr<Datastore>>> DatastorePool::Open() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::shared_ptr<Datastore>>> stores;
  for (const auto& [name, entry] : open_) stores.emplace_back(name, entry.second);
  return stores;
}

}  // namespace chunkvault::server

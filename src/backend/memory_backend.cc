#include <map>
#include <mutex>

#include "chunkvault/backend.h"
#include "util/thread_annotations.h"

namespace chunkvault {
namespace {

// In memory, for tests (a CountingBackend around it counts requests).
class MemoryBackend final : public Backend {
 public:
  std::string Describe() const override { return "memory"; }
  Status Check() override { return {}; }

  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override {
    std::lock_guard lock(mu_);
    auto [it, inserted] = objects_.try_emplace(key);
    if (!inserted && mode == PutMode::kIfAbsent) return false;
    it->second.assign(data.begin(), data.end());
    return true;
  }

  Result<Bytes> Get(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return Fail(ErrorCode::kNotFound, "no object " + key);
    return it->second;
  }

  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    CV_ASSIGN_OR_RETURN(Bytes all, Get(key));
    if (offset >= all.size()) return Bytes();
    return Bytes(all.begin() + long(offset),
                 all.begin() + long(std::min<uint64_t>(all.size(), offset + length)));
  }

  Result<std::optional<ObjectInfo>> Head(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::optional<ObjectInfo>();
    return std::optional<ObjectInfo>(ObjectInfo{key, it->second.size()});
  }

  Status Delete(const std::string& key) override {
    std::lock_guard lock(mu_);
    objects_.erase(key);
    return {};
  }

  Status DeleteMany(const std::vector<std::string>& keys) override {
    std::lock_guard lock(mu_);
    for (const auto& k : keys) objects_.erase(k);
    return {};
  }

  Status List(const std::string& prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    // Copy first: `fn` may call back into the backend.
    std::vector<ObjectInfo> found;
    {
      std::lock_guard lock(mu_);
      for (auto it = objects_.lower_bound(prefix);
           it != objects_.end() && it->first.starts_with(prefix); ++it)
        found.push_back({it->first, it->second.size()});
    }
    for (const ObjectInfo& o : found) CV_RETURN_IF_ERROR(fn(o));
    return {};
  }

  Status Copy(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(from);
    if (it == objects_.end()) return Fail(ErrorCode::kNotFound, "no object " + from);
    objects_[to] = it->second;
    return {};
  }

 private:
  std::mutex mu_;
  std::map<std::string, Bytes> objects_ CV_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend() { return std::make_unique<MemoryBackend>(); }

namespace {
class UnavailableBackend final : public Backend {
 public:
  UnavailableBackend(std::string description, std::string why)
      : description_(std::move(description)),
        error_(ErrorCode::kPermissionDenied, description_ + " cannot be used: " + why) {}
  std::string Describe() const override { return description_; }
  Status Check() override { return Fail(); }
  Result<bool> Put(const std::string&, ByteView, PutMode) override { return Fail(); }
  Result<Bytes> Get(const std::string&) override { return Fail(); }
  Result<Bytes> GetRange(const std::string&, uint64_t, uint64_t) override { return Fail(); }
  Result<std::optional<ObjectInfo>> Head(const std::string&) override { return Fail(); }
  Status Delete(const std::string&) override { return Fail(); }
  Status DeleteMany(const std::vector<std::string>&) override { return Fail(); }
  Status List(const std::string&, const std::function<Status(const ObjectInfo&)>&) override {
    return Fail();
  }
  Status Copy(const std::string&, const std::string&) override { return Fail(); }

 private:
  std::unexpected<Error> Fail() const { return std::unexpected(error_); }
  const std::string description_;
  const Error error_;
};
}  // namespace

std::unique_ptr<Backend> NewUnavailableBackend(std::string description, std::string why) {
  return std::make_unique<UnavailableBackend>(std::move(description), std::move(why));
}

Result<uint64_t> DeletePrefix(Backend& backend, const std::string& prefix) {
  std::vector<std::string> keys;
  CV_RETURN_IF_ERROR(backend.List(prefix, [&](const ObjectInfo& o) -> Status {
    keys.push_back(o.key);
    return {};
  }));
  CV_RETURN_IF_ERROR(backend.DeleteMany(keys));
  return uint64_t(keys.size());
}

}  // namespace chunkvault

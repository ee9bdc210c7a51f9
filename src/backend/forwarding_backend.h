// ForwardingBackend: a Backend that hands every call to another. The base
// of the wrappers that add behaviour to a backend (retries, a rate limit,
// request counts; backend/wrappers.h), and of tests that watch, check or
// fail chosen requests.
//
// Thread-safety: as the inner backend.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chunkvault/backend.h"

namespace chunkvault {

class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}

  std::string Describe() const override { return inner_->Describe(); }
  Status Check() override { return inner_->Check(); }
  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override {
    return inner_->Put(key, data, mode);
  }
  Result<Bytes> Get(const std::string& key) override { return inner_->Get(key); }
  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    return inner_->GetRange(key, offset, length);
  }
  Result<std::optional<ObjectInfo>> Head(const std::string& key) override {
    return inner_->Head(key);
  }
  Status Delete(const std::string& key) override { return inner_->Delete(key); }
  Status DeleteMany(const std::vector<std::string>& keys) override {
    return inner_->DeleteMany(keys);
  }
  Status List(const std::string& prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    return inner_->List(prefix, fn);
  }
  Status Copy(const std::string& from, const std::string& to) override {
    return inner_->Copy(from, to);
  }

 protected:
  const std::shared_ptr<Backend> inner_;
};

}  // namespace chunkvault

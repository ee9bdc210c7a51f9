#include "backend/s3/s3_backend.h"

namespace chunkvault {
namespace {

class S3Backend final : public Backend {
 public:
  S3Backend(std::shared_ptr<S3Client> client, int page_size)
      : client_(std::move(client)), page_size_(page_size) {}

  std::string Describe() const override { return client_->Describe(); }
  Status Check() override { return client_->HeadBucket(); }

  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override {
    return client_->PutObject(key, data, mode == PutMode::kIfAbsent);
  }
  Result<Bytes> Get(const std::string& key) override { return client_->GetObject(key); }
  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    return client_->GetObjectRange(key, offset, length);
  }
  Result<std::optional<ObjectInfo>> Head(const std::string& key) override {
    CV_ASSIGN_OR_RETURN(auto size, client_->HeadObject(key));
    if (!size) return std::optional<ObjectInfo>();
    return std::optional<ObjectInfo>(ObjectInfo{key, *size});
  }
  Status Delete(const std::string& key) override { return client_->DeleteObject(key); }

  Status DeleteMany(const std::vector<std::string>& keys) override {
    CV_ASSIGN_OR_RETURN(auto errors, client_->DeleteObjects(keys));
    if (errors.empty()) return {};
    std::string msg = std::to_string(errors.size()) + " of " + std::to_string(keys.size()) +
                      " objects could not be deleted from " + Describe() + ":";
    for (size_t i = 0; i < errors.size() && i < 5; ++i)
      msg += " " + errors[i].key + " (" + errors[i].code + ": " + errors[i].message + ")";
    if (errors.size() > 5) msg += " ...";
    return Fail(ErrorCode::kIo, msg);
  }

  Status List(const std::string& prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    std::string token;
    do {
      CV_ASSIGN_OR_RETURN(S3ListPage page, client_->ListObjectsV2(prefix, token, page_size_));
      for (const S3Object& o : page.objects) CV_RETURN_IF_ERROR(fn(ObjectInfo{o.key, o.size}));
      token = page.next_token;
    } while (!token.empty());
    return {};
  }

  Status Copy(const std::string& from, const std::string& to) override {
    return client_->CopyObject(from, to);
  }

  BackendCounts Counts() const override {
    const S3RequestCounts& c = client_->counts();
    return {c.get, c.put, c.head, c.list, c.del, c.copy, c.bytes_up, c.bytes_down};
  }

 private:
  std::shared_ptr<S3Client> client_;
  const int page_size_;
};

}  // namespace

std::unique_ptr<Backend> NewS3Backend(std::shared_ptr<S3Client> client, int page_size) {
  return std::make_unique<S3Backend>(std::move(client), page_size);
}

}  // namespace chunkvault

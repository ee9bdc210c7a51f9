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

 private:
  std::shared_ptr<S3Client> client_;
  const int page_size_;
};

}  // namespace

std::unique_ptr<Backend> NewS3ObjectBackend(std::shared_ptr<S3Client> client, int page_size) {
  return std::make_unique<S3Backend>(std::move(client), page_size);
}

CountedBackend NewS3Backend(std::shared_ptr<S3Client> client, S3BackendOptions options) {
  const S3Settings settings = client->settings();
  auto counter =
      std::make_shared<CountingBackend>(NewS3ObjectBackend(std::move(client), options.page_size));
  std::shared_ptr<Backend> b = counter;
  if (settings.skip_if_none_match) b = std::make_shared<HeadBeforePutBackend>(std::move(b));
  if (settings.put_rate_limit > 0)
    b = std::make_shared<RateLimitedBackend>(std::move(b), settings.put_rate_limit, options.clock);
  b = std::make_shared<RetryingBackend>(std::move(b), options.retry, options.clock,
                                        std::move(options.on_retry));
  return CountedBackend{std::move(b), std::move(counter)};
}

Result<CountedBackend> OpenS3Backend(const S3Settings& settings, const GetEnv& env,
                                     std::function<void(const std::string&)> on_retry) {
  CV_ASSIGN_OR_RETURN(AwsSettings aws, LoadAwsSettings(env));
  HttpClientOptions http;
  http.pinned_fingerprint = settings.fingerprint;
  CV_ASSIGN_OR_RETURN(auto http_client, NewCurlHttpClient(http));
  CV_ASSIGN_OR_RETURN(auto client,
                      S3Client::Create(settings, aws.credentials, std::move(http_client)));
  S3BackendOptions options;
  options.on_retry = std::move(on_retry);
  return NewS3Backend(std::shared_ptr<S3Client>(std::move(client)), std::move(options));
}

}  // namespace chunkvault

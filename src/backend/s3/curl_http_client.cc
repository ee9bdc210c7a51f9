#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include "backend/s3/http.h"
#include "chunkvault/backend.h"
#include "util/thread_annotations.h"

namespace chunkvault {

std::string HttpResponse::Header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (h.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = h.name[i] == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return h.value;
  }
  return "";
}

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return Fail(ErrorCode::kInvalidArgument,
                  "certificate fingerprint '" + std::string(text) + "' is not hex");
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.size() != 64)
    return Fail(ErrorCode::kInvalidArgument, "certificate fingerprint '" + std::string(text) +
                                                 "' is not a SHA-256 fingerprint (64 hex digits)");
  return out;
}

namespace {

// The fingerprint the last handshake on this thread presented, for the
// error message when pinning rejects it.
thread_local std::string last_seen_fingerprint;

int VerifyPinned(int /*preverify_ok*/, X509_STORE_CTX* store) {
  // Only the server's own certificate (depth 0) is pinned; the chain above
  // it is not trusted or needed.
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* expected = static_cast<const std::string*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1) return 0;
  last_seen_fingerprint = ToHex(ByteView(md, len));
  return last_seen_fingerprint == *expected ? 1 : 0;
}

CURLcode InstallPinning(CURL*, void* ssl_ctx, void* fingerprint) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_app_data(ctx, fingerprint);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyPinned);
  return CURLE_OK;
}

// An answer's body grows at most to an object's largest size plus room
// for an XML envelope; past that the transfer stops (a write error).
constexpr size_t kMaxResponseBody = kMaxObjectSize + (1 << 20);

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<Bytes*>(out);
  if (body->size() + size * n > kMaxResponseBody) return 0;
  body->insert(body->end(), data, data + size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* out) {
  auto* headers = static_cast<std::vector<HttpHeader>*>(out);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100 Continue or a redirect)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  HttpHeader h;
  for (char c : line.substr(0, colon)) h.name += char(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  h.value = std::string(value);
  headers->push_back(std::move(h));
  return size * n;
}

struct UploadState {
  ByteView data;
  size_t pos = 0;
};

size_t OnRead(char* buf, size_t size, size_t n, void* in) {
  auto* s = static_cast<UploadState*>(in);
  size_t take = std::min(size * n, s->data.size() - s->pos);
  std::copy_n(s->data.data() + s->pos, take, buf);
  s->pos += take;
  return take;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(const HttpClientOptions& options) : options_(options) {}

  ~CurlHttpClient() override {
    std::lock_guard lock(mu_);
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    Handle handle(this);
    if (handle.get() == nullptr) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
    CURL* curl = handle.get();
    // reset keeps the handle's live connections: that is the pooling.
    curl_easy_reset(curl);

    HttpResponse response;
    UploadState upload{request.body, 0};
    struct curl_slist* headers = nullptr;
    for (const HttpHeader& h : request.headers)
      headers = curl_slist_append(headers, (h.name + ": " + h.value).c_str());
    // No "Expect: 100-continue" round trip before a body.
    headers = curl_slist_append(headers, "Expect:");
    if (request.method == "PUT" || request.method == "POST")
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, std::max(1L, options_.stall_timeout_ms / 1000));
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
    if (!pinned_.empty()) {
      // The pin replaces CA and host name checks (self-signed endpoints).
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, InstallPinning);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &pinned_);
    }
    if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.size()));
    } else if (request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.size()));
    } else if (request.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    char error_buffer[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    last_seen_fingerprint.clear();
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      std::string what = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
      if (rc == CURLE_WRITE_ERROR)
        return Fail(ErrorCode::kCorrupt, "the answer's body is larger than " +
                                             std::to_string(kMaxResponseBody) + " bytes");
      if (!pinned_.empty() && !last_seen_fingerprint.empty() && last_seen_fingerprint != pinned_)
        what = "certificate fingerprint mismatch: the server presented " + last_seen_fingerprint +
               ", expected " + pinned_;
      handle.Discard();  // its connection may be in any state
      // An untrusted certificate will not become trusted by retrying.
      const bool tls_trust = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                             rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR ||
                             !last_seen_fingerprint.empty();
      return Fail(tls_trust ? ErrorCode::kPermissionDenied : ErrorCode::kNetwork, what);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

  Status Init() {
    if (options_.pinned_fingerprint.empty()) return {};
    CV_ASSIGN_OR_RETURN(pinned_, NormalizeFingerprint(options_.pinned_fingerprint));
    return {};
  }

 private:
  // An easy handle borrowed from the pool for one request.
  class Handle {
   public:
    explicit Handle(CurlHttpClient* owner) : owner_(owner) {
      std::lock_guard lock(owner_->mu_);
      if (!owner_->idle_.empty()) {
        h_ = owner_->idle_.back();
        owner_->idle_.pop_back();
      }
      if (h_ == nullptr) h_ = curl_easy_init();
    }
    ~Handle() {
      if (h_ == nullptr) return;
      std::lock_guard lock(owner_->mu_);
      owner_->idle_.push_back(h_);
    }
    CURL* get() const { return h_; }
    void Discard() {
      curl_easy_cleanup(h_);
      h_ = nullptr;
    }

   private:
    CurlHttpClient* owner_;
    CURL* h_ = nullptr;
  };

  const HttpClientOptions options_;
  std::string pinned_;  // normalised fingerprint, or empty
  std::mutex mu_;
  std::vector<CURL*> idle_ CV_GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<HttpClient>> NewCurlHttpClient(const HttpClientOptions& options) {
  static CurlGlobal global;  // curl_global_init, once, before any handle
  auto client = std::make_unique<CurlHttpClient>(options);
  CV_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<HttpClient>(std::move(client));
}

}  // namespace chunkvault

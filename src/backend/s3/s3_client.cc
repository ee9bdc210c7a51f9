#include "backend/s3/s3_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>

#include "backend/s3/sigv4.h"
#include "chunkvault/hash.h"

namespace chunkvault {

namespace {

std::string Base64(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), int(data.size()));
  out.resize(size_t(n));
  return out;
}

std::string Md5Base64(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return Base64(ByteView(md, len));
}

bool Retryable(long status, bool retry_conflict) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
         (status == 409 && retry_conflict);
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "[::1]" || host == "::1" || host.starts_with("127.");
}

bool IsDnsCompatibleBucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  bool all_digits_and_dots = true;
  char prev = '.';  // the start counts as a label boundary
  for (const char c : bucket) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '.') return false;
    // An empty label, one that ends in '-', one that starts with '-'.
    if (c == '.' && (prev == '.' || prev == '-')) return false;
    if (c == '-' && prev == '.') return false;
    all_digits_and_dots &= (c >= '0' && c <= '9') || c == '.';
    prev = c;
  }
  return prev != '.' && prev != '-' && !all_digits_and_dots;
}

namespace {

// An IPv4 address (digits and dots) or a bracketed IPv6 one: no host
// name to put the bucket in front of.
bool IsIpLiteral(const std::string& host) {
  if (host.starts_with('[')) return true;
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

S3Client::S3Client(S3Settings settings, Credentials credentials, std::unique_ptr<HttpClient> http,
                   std::function<int64_t()> now_unix)
    : settings_(std::move(settings)),
      credentials_(std::move(credentials)),
      http_(std::move(http)),
      now_unix_(now_unix ? std::move(now_unix) : [] { return int64_t(::time(nullptr)); }) {}

Result<std::unique_ptr<S3Client>> S3Client::Create(S3Settings config, Credentials credentials,
                                                   std::unique_ptr<HttpClient> http,
                                                   std::function<int64_t()> now_unix) {
  while (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
  CV_ASSIGN_OR_RETURN(UrlParts url, ParseUrl(config.endpoint));
  if (url.path != "/" || !url.query.empty())
    return Fail(ErrorCode::kInvalidArgument,
                "S3 endpoint " + config.endpoint + " must be scheme://host[:port] without a path");
  if (url.scheme == "http" && !IsLoopbackHost(url.host))
    return Fail(ErrorCode::kInvalidArgument,
                "S3 endpoint " + config.endpoint +
                    ": plain HTTP is only allowed for loopback addresses; use https");
  if (config.bucket.empty()) return Fail(ErrorCode::kInvalidArgument, "no S3 bucket given");
  std::unique_ptr<S3Client> c(new S3Client(std::move(config), std::move(credentials),
                                           std::move(http), std::move(now_unix)));
  c->scheme_ = url.scheme;
  c->host_ = url.Authority();
  const std::string& bucket = c->settings_.bucket;
  c->path_style_ = c->settings_.path_style || IsIpLiteral(url.host) ||
                   !IsDnsCompatibleBucket(bucket) ||
                   (url.scheme == "https" && bucket.find('.') != std::string::npos);
  return c;
}

std::string S3Client::Describe() const {
  return "bucket '" + settings_.bucket + "' at " + settings_.endpoint;
}

std::string S3Client::Url(const std::string& key, const std::string& query) const {
  std::string url = scheme_;
  url += "://";
  if (path_style_) {
    url += host_;
    url += '/';
    url += UriEncode(settings_.bucket, false);
    if (!key.empty()) url += '/';
  } else {
    url += settings_.bucket;
    url += '.';
    url += host_;
    url += '/';
  }
  url += UriEncode(key, true);
  if (!query.empty()) {
    url += '?';
    url += query;
  }
  return url;
}

std::string S3Client::What(const Call& call) const {
  return "S3 " + call.op + (call.key.empty() ? "" : " " + call.key) + " (" + Describe() + ")";
}

Error S3Client::StatusError(const Call& call, const HttpResponse& r) const {
  std::string detail = "HTTP " + std::to_string(r.status);
  auto body = ParseS3Error(r.body);
  if (body) {
    detail += " " + body->code;
    if (!body->message.empty()) detail += ": " + body->message;
    if (!body->request_id.empty()) detail += " (request id " + body->request_id + ")";
  }
  ErrorCode code = ErrorCode::kIo;
  if (r.status == 404) code = ErrorCode::kNotFound;
  if (r.status == 403) {
    code = ErrorCode::kPermissionDenied;
    detail += " with " + credentials_.Describe();
  }
  // Transient: the retrying wrapper tries again. Other 5xx are final.
  if (Retryable(r.status, call.retry_conflict)) code = ErrorCode::kNetwork;
  return Error(code, What(call) + ": " + detail);
}

Result<HttpResponse> S3Client::Execute(const Call& call) {
  HttpRequest req;
  req.method = call.method;
  req.url = Url(call.key, call.query);
  req.headers = call.headers;
  req.body = call.body;
  SignRequest(req, credentials_, {settings_.region, "s3", now_unix_()}, ToHex(Sha256Of(call.body)));
  auto r = http_->Send(req);
  if (!r) return std::unexpected(std::move(r).error().Context(What(call)));
  if (Retryable(r->status, call.retry_conflict)) return std::unexpected(StatusError(call, *r));
  return r;
}

Result<bool> S3Client::PutObject(const std::string& key, ByteView data, bool if_absent) {
  Call call{"PUT", "PUT", key, "", {}, data, /*retry_conflict=*/true};
  if (if_absent) call.headers.push_back({"If-None-Match", "*"});
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 200) return true;
  if (r.status == 412 && if_absent) return false;  // already there
  return std::unexpected(StatusError(call, r));
}

Result<Bytes> S3Client::GetObject(const std::string& key) {
  Call call{"GET", "GET", key, "", {}, {}, false};
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 200) return std::move(r.body);
  return std::unexpected(StatusError(call, r));
}

Result<Bytes> S3Client::GetObjectRange(const std::string& key, uint64_t offset, uint64_t length) {
  if (length == 0) return Bytes();
  Call call{"GET", "GET", key, "", {}, {}, false};
  call.headers.push_back(
      {"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)});
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 206) return std::move(r.body);
  // A range that starts inside the object but runs past its end is clipped
  // by the server (206); one that starts past the end is 416.
  if (r.status == 416) return Bytes();
  if (r.status == 200) {  // server ignored the range: cut it ourselves
    Bytes all = std::move(r.body);
    if (offset >= all.size()) return Bytes();
    return Bytes(all.begin() + long(offset),
                 all.begin() + long(std::min<uint64_t>(all.size(), offset + length)));
  }
  return std::unexpected(StatusError(call, r));
}

Result<std::optional<uint64_t>> S3Client::HeadObject(const std::string& key) {
  Call call{"HEAD", "HEAD", key, "", {}, {}, false};
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 404) return std::optional<uint64_t>();
  if (r.status != 200) return std::unexpected(StatusError(call, r));
  return std::optional<uint64_t>(std::strtoull(r.Header("content-length").c_str(), nullptr, 10));
}

Status S3Client::HeadBucket() {
  Call call{"HEAD bucket", "HEAD", "", "", {}, {}, false};
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 200) return {};
  if (r.status == 404)
    return Fail(ErrorCode::kNotFound,
                "S3 bucket '" + settings_.bucket + "' does not exist at " + settings_.endpoint);
  return std::unexpected(StatusError(call, r));
}

Status S3Client::DeleteObject(const std::string& key) {
  Call call{"DELETE", "DELETE", key, "", {}, {}, false};
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 204 || r.status == 200 || r.status == 404) return {};
  return std::unexpected(StatusError(call, r));
}

Result<std::vector<S3DeleteError>> S3Client::DeleteObjects(const std::vector<std::string>& keys) {
  std::vector<S3DeleteError> errors;
  for (size_t start = 0; start < keys.size(); start += 1000) {
    std::vector<std::string> batch(keys.begin() + long(start),
                                   keys.begin() + long(std::min(keys.size(), start + 1000)));
    const std::string body = BuildDeleteRequest(batch);
    Call call{"DeleteObjects", "POST", "", "delete", {}, AsBytes(body), false};
    call.headers.push_back({"Content-MD5", Md5Base64(body)});
    CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
    if (r.status != 200) return std::unexpected(StatusError(call, r));
    auto result = ParseDeleteResult(r.body);
    if (!result) return std::unexpected(std::move(result).error().Context(What(call)));
    errors.insert(errors.end(), result->begin(), result->end());
  }
  return errors;
}

Result<S3ListPage> S3Client::ListObjectsV2(const std::string& prefix,
                                           const std::string& continuation_token, int max_keys) {
  std::string query = "list-type=2&encoding-type=url&max-keys=" + std::to_string(max_keys) +
                      "&prefix=" + UriEncode(prefix, false);
  if (!continuation_token.empty())
    query += "&continuation-token=" + UriEncode(continuation_token, false);
  Call call{"LIST " + prefix, "GET", "", query, {}, {}, false};
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status != 200) return std::unexpected(StatusError(call, r));
  return WithContext(ParseListObjectsV2(r.body), What(call));
}

Status S3Client::CopyObject(const std::string& from, const std::string& to) {
  Call call{"COPY to", "PUT", to, "", {}, {}, true};
  std::string source = "/";
  source += UriEncode(settings_.bucket, false);
  source += '/';
  source += UriEncode(from, true);
  call.headers.push_back({"x-amz-copy-source", std::move(source)});
  CV_ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  // CopyObject may fail after the 200 header went out: the body says so.
  if (r.status == 200 && XmlRootName(r.body) != "Error") return {};
  // Told as the 500 it stands for, but final: the copy may have half
  // happened.
  const bool failed_after_200 = r.status == 200;
  if (failed_after_200) r.status = 500;
  Error e = StatusError(call, r);
  if (failed_after_200) e = Error(ErrorCode::kIo, e.message());
  return std::unexpected(e.Context("copy from " + from));
}

}  // namespace chunkvault

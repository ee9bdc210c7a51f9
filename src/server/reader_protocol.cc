#include "server/reader_protocol.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <unordered_set>

#include "chunkvault/index.h"
#include "chunkvault/size.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {
namespace {

class ReaderProtocol final : public ProtocolSession {
 public:
  explicit ReaderProtocol(ReaderSessionParams params)
      : p_(std::move(params)), started_(std::chrono::steady_clock::now()) {
    if (p_.metrics) p_.metrics->sessions_active += 1;
  }

  HttpResponse Handle(HttpRequest request) override {
    if (p_.metrics) p_.metrics->requests += 1;
    auto answer = Route(request);
    if (!answer) return ErrorAnswer(answer.error());
    return std::move(*answer);
  }

  void End() override {
    std::lock_guard lock(mu_);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    char line[512];
    std::snprintf(
        line, sizeof line, "restore %s:%s by %s from %s: %llu files, %llu chunks, %s sent, %.1f s",
        p_.store_name.c_str(), p_.reader->snapshot().ToString().c_str(), p_.who.ToString().c_str(),
        p_.peer.c_str(), static_cast<unsigned long long>(files_),
        static_cast<unsigned long long>(chunks_), FormatSize(bytes_sent_).c_str(), seconds);
    if (p_.log) p_.log(line);
    if (p_.metrics) {
      p_.metrics->sessions_active -= 1;
      p_.metrics->restores += 1;
    }
    p_.reader.reset();  // releases the snapshot
  }

 private:
  Result<HttpResponse> Route(const HttpRequest& r) {
    std::string path = r.path;
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (r.method == "GET" && path == "download") return Download(r);
    if (r.method == "GET" && path == "chunk") return Chunk(r);
    if (r.method == "GET" && path == "speedtest")
      return BytesAnswer(Bytes(1 << 20, static_cast<uint8_t>('A')));
    if (r.method == "GET" && path.empty())
      return JsonAnswer(nlohmann::json::array(
          {{{"subdir", "chunk"}}, {{"subdir", "download"}}, {{"subdir", "speedtest"}}}));
    return ErrorAnswer(404, "Path '" + r.path + "' not found.");
  }

  Result<HttpResponse> Download(const HttpRequest& r) {
    CV_ASSIGN_OR_RETURN(std::string name, r.query.GetString("file-name"));
    CV_ASSIGN_OR_RETURN(Bytes raw, p_.reader->ReadFile(name));
    // An index opens its chunks for download.
    std::vector<ChunkRef> chunks;
    if (name.ends_with(".didx") || name.ends_with(".fidx")) {
      CV_ASSIGN_OR_RETURN(chunks, IndexChunks(name, raw));
    }
    std::lock_guard lock(mu_);
    for (const ChunkRef& c : chunks) allowed_.insert(c.digest);
    files_ += 1;
    bytes_sent_ += raw.size();
    if (p_.metrics) p_.metrics->bytes_served += raw.size();
    return BytesAnswer(std::move(raw));
  }

  Result<HttpResponse> Chunk(const HttpRequest& r) {
    CV_ASSIGN_OR_RETURN(std::string hex, r.query.GetString("digest"));
    CV_ASSIGN_OR_RETURN(Digest digest, DigestFromHex(hex));
    {
      std::lock_guard lock(mu_);
      if (!allowed_.contains(digest))
        return ErrorAnswer(401, "download chunk " + hex + " not allowed");
    }
    CV_ASSIGN_OR_RETURN(Bytes raw, p_.reader->ReadChunk(digest));
    std::lock_guard lock(mu_);
    chunks_ += 1;
    bytes_sent_ += raw.size();
    if (p_.metrics) {
      p_.metrics->chunks_served += 1;
      p_.metrics->bytes_served += raw.size();
    }
    return BytesAnswer(std::move(raw));
  }

  ReaderSessionParams p_;
  const std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::unordered_set<Digest, DigestHash> allowed_ CV_GUARDED_BY(mu_);
  uint64_t files_ CV_GUARDED_BY(mu_) = 0;
  uint64_t chunks_ CV_GUARDED_BY(mu_) = 0;
  uint64_t bytes_sent_ CV_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<ProtocolSession> OpenReaderProtocol(ReaderSessionParams params) {
  return std::make_unique<ReaderProtocol>(std::move(params));
}

}  // namespace chunkvault::server

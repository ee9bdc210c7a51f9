#include "server/backup_protocol.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/size.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {
namespace {

constexpr uint64_t kFixedChunkSize = 4u << 20;  // PBS's fixed writers
constexpr int64_t kMaxWriters = 256;            // the schema's wid range
constexpr int64_t kMaxChunkBytes = 16 << 20;
constexpr int64_t kMaxEncodedChunk = (16 << 20) + 44;
constexpr int64_t kMaxEncodedBlob = (16 << 20) + 44;

Error Bad(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

struct UploadStats {
  uint64_t count = 0, size = 0, compressed_size = 0, duplicates = 0;
};

struct Writer {
  std::string name;
  bool fixed = false;
  bool closed = false;
  UploadStats stats;      // chunks uploaded through this writer
  uint64_t appended = 0;  // entries appended in this session
  // Dynamic.
  std::vector<DynamicEntry> entries;
  uint64_t end = 0;
  // Fixed.
  std::optional<uint64_t> declared_size;
  uint64_t size = 0;  // the image's size so far
  std::vector<Digest> digests;
  bool incremental = false;
  bool small_chunk_uploaded = false;
};

class BackupProtocol final : public ProtocolSession {
 public:
  BackupProtocol(BackupSessionParams params, std::unique_ptr<UploadSession> upload)
      : p_(std::move(params)),
        upload_(std::move(upload)),
        started_(std::chrono::steady_clock::now()) {}

  HttpResponse Handle(HttpRequest request) override {
    if (p_.metrics) p_.metrics->requests += 1;
    auto answer = Route(request);
    if (!answer) {
      std::lock_guard lock(mu_);
      last_error_ = answer.error().message();
      return ErrorAnswer(answer.error());
    }
    return std::move(*answer);
  }

  void End() override {
    std::lock_guard lock(mu_);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::string outcome = finished_ ? "finished" : "aborted, snapshot removed";
    if (!finished_ && !last_error_.empty()) outcome += " (last error: " + last_error_ + ")";
    char line[640];
    std::snprintf(line, sizeof line,
                  "backup %s:%s by %s from %s: %s; %s received, %llu chunks in the indexes, "
                  "%llu uploaded (%llu new, %llu already stored), %.1f s",
                  p_.store_name.c_str(), upload_->snapshot().ToString().c_str(),
                  p_.who.ToString().c_str(), p_.peer.c_str(), outcome.c_str(),
                  FormatSize(bytes_received_).c_str(), static_cast<unsigned long long>(appended_),
                  static_cast<unsigned long long>(total_.count),
                  static_cast<unsigned long long>(total_.count - total_.duplicates),
                  static_cast<unsigned long long>(total_.duplicates), seconds);
    // Dropping the upload removes an unfinished snapshot and unlocks the
    // group: done before the line says so.
    upload_.reset();
    if (p_.log) p_.log(line);
    if (p_.metrics) {
      p_.metrics->sessions_active -= 1;
      (finished_ ? p_.metrics->backups_finished : p_.metrics->backups_aborted) += 1;
    }
  }

 private:
  Result<HttpResponse> Route(const HttpRequest& r) {
    std::string path = r.path;
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (path.find('/') != std::string::npos || (!path.empty() && path.front() == '.'))
      return ErrorAnswer(404, "Path '" + r.path + "' not found.");
    const std::string& m = r.method;
    if (path == "dynamic_chunk" && m == "POST") return UploadChunk(r, false);
    if (path == "fixed_chunk" && m == "POST") return UploadChunk(r, true);
    if (path == "dynamic_index" && m == "PUT") return Append(r, false);
    if (path == "fixed_index" && m == "PUT") return Append(r, true);
    if (path == "previous_backup_time" && m == "GET") return PreviousTime();
    if (path == "previous" && m == "GET") return Previous(r);
    if (path == "dynamic_index" && m == "POST") return CreateWriter(r, false);
    if (path == "fixed_index" && m == "POST") return CreateWriter(r, true);
    if (path == "dynamic_close" && m == "POST") return Close(r, false);
    if (path == "fixed_close" && m == "POST") return Close(r, true);
    if (path == "blob" && m == "POST") return UploadBlob(r);
    if (path == "finish" && m == "POST") return Finish();
    if (path == "speedtest" && m == "POST") return JsonAnswer(nullptr);
    if (path.empty() && m == "GET")
      return JsonAnswer(nlohmann::json::array({{{"subdir", "blob"}},
                                               {{"subdir", "dynamic_chunk"}},
                                               {{"subdir", "dynamic_close"}},
                                               {{"subdir", "dynamic_index"}},
                                               {{"subdir", "finish"}},
                                               {{"subdir", "fixed_chunk"}},
                                               {{"subdir", "fixed_close"}},
                                               {{"subdir", "fixed_index"}},
                                               {{"subdir", "previous"}},
                                               {{"subdir", "previous_backup_time"}},
                                               {{"subdir", "speedtest"}}}));
    return ErrorAnswer(404, "Path '" + r.path + "' not found.");
  }

  Status CheckRunning() CV_REQUIRES(mu_) {
    if (finished_) return std::unexpected(Bad("backup already marked as finished."));
    if (finishing_) return std::unexpected(Bad("backup is already in the process of finishing."));
    return {};
  }

  Result<Writer*> FindWriter(int64_t wid, bool fixed) CV_REQUIRES(mu_) {
    auto it = writers_.find(wid);
    if (it == writers_.end() || it->second.fixed != fixed)
      return std::unexpected(Bad(std::string(fixed ? "fixed" : "dynamic") + " writer '" +
                                 std::to_string(wid) + "' not registered"));
    if (it->second.closed)
      return std::unexpected(Bad(std::string(fixed ? "fixed" : "dynamic") + " writer '" +
                                 std::to_string(wid) + "' is already closed"));
    return &it->second;
  }

  Result<HttpResponse> PreviousTime() {
    const auto& prev = upload_->previous();
    return JsonAnswer(prev ? nlohmann::json(prev->time) : nlohmann::json(nullptr));
  }

  Result<HttpResponse> Previous(const HttpRequest& r) {
    CV_ASSIGN_OR_RETURN(std::string name, r.query.GetString("archive-name"));
    if (!upload_->previous()) return std::unexpected(Bad("no valid previous backup"));
    CV_ASSIGN_OR_RETURN(Bytes raw, upload_->ReadPreviousFile(name));
    // An index makes its chunks known: the client may append them.
    std::vector<ChunkRef> chunks;
    if (name.ends_with(".didx") || name.ends_with(".fidx")) {
      CV_ASSIGN_OR_RETURN(chunks, IndexChunks(name, raw));
    }
    if (!chunks.empty()) {
      std::lock_guard lock(mu_);
      for (const ChunkRef& c : chunks) known_.emplace(c.digest, c.size);
    }
    return BytesAnswer(std::move(raw));
  }

  Result<HttpResponse> CreateWriter(const HttpRequest& r, bool fixed) {
    CV_ASSIGN_OR_RETURN(Params params, ParamsOf(r));
    CV_ASSIGN_OR_RETURN(std::string name, params.GetString("archive-name"));
    const char* ext = fixed ? ".fidx" : ".didx";
    if (!name.ends_with(ext))
      return std::unexpected(Bad(std::string("wrong archive extension: '") + name + "'"));
    Writer w;
    w.name = name;
    w.fixed = fixed;
    if (fixed) {
      CV_ASSIGN_OR_RETURN(auto size, params.GetOptionalInt("size", 1, int64_t{1} << 50));
      if (size) w.declared_size = static_cast<uint64_t>(*size);
      if (const std::string* reuse = params.Find("reuse-csum")) {
        if (!size) return std::unexpected(Bad("reuse-csum needs size"));
        CV_ASSIGN_OR_RETURN(Digest expected, DigestFromHex(*reuse));
        if (!upload_->previous())
          return std::unexpected(Bad("no previous backup to reuse (reuse-csum)"));
        CV_ASSIGN_OR_RETURN(Bytes raw, upload_->ReadPreviousFile(name));
        CV_ASSIGN_OR_RETURN(FixedIndex prev, FixedIndex::Parse(raw));
        if (prev.ComputeChecksum() != expected)
          return std::unexpected(
              Bad("previous backup's checksum of " + name + " does not match reuse-csum"));
        const uint64_t count = (*size + kFixedChunkSize - 1) / kFixedChunkSize;
        if (prev.digests.size() != count || prev.chunk_size != kFixedChunkSize)
          return std::unexpected(Bad("previous backup's " + name + " has another size"));
        w.digests = prev.digests;
        w.size = *size;
        w.incremental = true;
        std::lock_guard lock(mu_);
        for (const ChunkRef& c : prev.Chunks()) known_.emplace(c.digest, c.size);
      } else if (size) {
        w.size = *size;
        w.digests.assign((*size + kFixedChunkSize - 1) / kFixedChunkSize, Digest{});
      }
    }
    std::lock_guard lock(mu_);
    CV_RETURN_IF_ERROR(CheckRunning());
    for (const auto& [id, other] : writers_)
      if (other.name == name) return std::unexpected(Bad(name + " has a writer already"));
    if (next_wid_ > kMaxWriters) return std::unexpected(Bad("too many index writers"));
    const int64_t wid = next_wid_++;
    writers_.emplace(wid, std::move(w));
    return JsonAnswer(wid);
  }

  Result<HttpResponse> UploadChunk(const HttpRequest& r, bool fixed) {
    const Params& q = r.query;  // PBS reads upload parameters from the query only
    CV_ASSIGN_OR_RETURN(int64_t wid, q.GetInt("wid", 1, kMaxWriters));
    CV_ASSIGN_OR_RETURN(std::string digest_hex, q.GetString("digest"));
    CV_ASSIGN_OR_RETURN(Digest digest, DigestFromHex(digest_hex));
    CV_ASSIGN_OR_RETURN(int64_t size, q.GetInt("size", 1, kMaxChunkBytes));
    CV_ASSIGN_OR_RETURN(int64_t encoded, q.GetInt("encoded-size", 13, kMaxEncodedChunk));
    if (r.body.size() > static_cast<uint64_t>(encoded))
      return std::unexpected(Bad("uploaded chunk is larger than announced."));
    if (r.body.size() < static_cast<uint64_t>(encoded))
      return std::unexpected(Bad("uploaded chunk has unexpected size."));
    {
      std::lock_guard lock(mu_);
      CV_RETURN_IF_ERROR(CheckRunning());
      CV_ASSIGN_OR_RETURN(Writer * w, FindWriter(wid, fixed));
      if (fixed && static_cast<uint64_t>(size) > kFixedChunkSize)
        return std::unexpected(
            Bad("fixed writer '" + std::to_string(wid) + "': chunk larger than 4 MiB"));
      (void)w;
      bytes_received_ += r.body.size();
    }
    CV_ASSIGN_OR_RETURN(ChunkUploadResult stored,
                        upload_->UploadChunk(digest, static_cast<uint64_t>(size), r.body));
    std::lock_guard lock(mu_);
    CV_ASSIGN_OR_RETURN(Writer * w, FindWriter(wid, fixed));
    if (fixed && static_cast<uint64_t>(size) < kFixedChunkSize) {
      if (w->small_chunk_uploaded) return std::unexpected(Bad("detected multiple end chunks"));
      w->small_chunk_uploaded = true;
    }
    for (UploadStats* s : {&w->stats, &total_}) {
      s->count += 1;
      s->size += static_cast<uint64_t>(size);
      s->compressed_size += stored.encoded_bytes;
      if (!stored.stored) s->duplicates += 1;
    }
    known_[digest] = static_cast<uint64_t>(size);
    if (p_.metrics) {
      p_.metrics->chunks_received += 1;
      p_.metrics->bytes_received += r.body.size();
      (stored.stored ? p_.metrics->chunks_stored : p_.metrics->chunks_duplicate) += 1;
    }
    return JsonAnswer(ToHex(digest));
  }

  Result<HttpResponse> Append(const HttpRequest& r, bool fixed) {
    // PBS's client sends the append as a JSON object with two arrays.
    auto body = nlohmann::json::parse(r.body.begin(), r.body.end(), nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return std::unexpected(Bad("append needs a JSON object body"));
    auto wid_field = body.find("wid");
    if (wid_field == body.end() || !wid_field->is_number_unsigned() ||
        wid_field->get<uint64_t>() < 1 || wid_field->get<uint64_t>() > kMaxWriters)
      return std::unexpected(Bad("parameter verification failed - 'wid': expected 1..256"));
    const int64_t wid = wid_field->get<int64_t>();
    auto digests = body.find("digest-list");
    auto offsets = body.find("offset-list");
    if (digests == body.end() || offsets == body.end() || !digests->is_array() ||
        !offsets->is_array())
      return std::unexpected(Bad("append needs digest-list and offset-list"));
    if (digests->size() != offsets->size())
      return std::unexpected(Bad("offset list has wrong length (" +
                                 std::to_string(offsets->size()) +
                                 " != " + std::to_string(digests->size()) + ")"));
    std::vector<std::pair<uint64_t, Digest>> items;
    items.reserve(digests->size());
    for (size_t i = 0; i < digests->size(); ++i) {
      const auto& d = (*digests)[i];
      const auto& o = (*offsets)[i];
      if (!d.is_string() || !o.is_number_unsigned())
        return std::unexpected(Bad("append entry " + std::to_string(i) + " is malformed"));
      CV_ASSIGN_OR_RETURN(Digest digest, DigestFromHex(d.get<std::string>()));
      items.emplace_back(o.get<uint64_t>(), digest);
    }
    std::lock_guard lock(mu_);
    CV_RETURN_IF_ERROR(CheckRunning());
    CV_ASSIGN_OR_RETURN(Writer * w, FindWriter(wid, fixed));
    // Every entry is checked before the writer changes: a refused append
    // leaves it as it was.
    std::vector<uint64_t> sizes;
    sizes.reserve(items.size());
    uint64_t end = w->end, image_size = w->size;
    for (const auto& [offset, digest] : items) {
      auto known = known_.find(digest);
      if (known == known_.end()) return std::unexpected(Bad("no such chunk " + ToHex(digest)));
      const uint64_t size = known->second;
      sizes.push_back(size);
      if (fixed) {
        CV_RETURN_IF_ERROR(CheckFixedChunk(w->declared_size, image_size, offset, size));
      } else {
        if (offset != end)
          return std::unexpected(Bad("got strange chunk offset (" + std::to_string(offset) +
                                     " != " + std::to_string(end) + ")"));
        end += size;
      }
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& [offset, digest] = items[i];
      if (fixed) {
        w->size = image_size;
        w->digests.resize((image_size + kFixedChunkSize - 1) / kFixedChunkSize, Digest{});
        w->digests[offset / kFixedChunkSize] = digest;
      } else {
        w->end += sizes[i];
        w->entries.push_back(DynamicEntry{w->end, digest});
      }
    }
    w->appended += items.size();
    appended_ += items.size();
    return JsonAnswer(nullptr);
  }

  // PBS's fixed index rules: 4 MiB aligned starts, within the declared
  // size (a writer without one grows), only the last chunk shorter.
  static Status CheckFixedChunk(const std::optional<uint64_t>& declared, uint64_t& image_size,
                                uint64_t start, uint64_t size) {
    if (start % kFixedChunkSize != 0)
      return std::unexpected(
          Bad("fixed index: offset " + std::to_string(start) + " is not a multiple of 4 MiB"));
    if (size > kFixedChunkSize) return std::unexpected(Bad("fixed index: chunk larger than 4 MiB"));
    const uint64_t end = start + size;
    if (declared) {
      if (end > *declared)
        return std::unexpected(Bad("fixed index: chunk end " + std::to_string(end) +
                                   " beyond the image size " + std::to_string(*declared)));
    } else if (end > image_size) {
      image_size = end;
    }
    if (size != kFixedChunkSize && end != image_size)
      return std::unexpected(Bad("fixed index: only the last chunk may be shorter than 4 MiB"));
    return {};
  }

  Result<HttpResponse> Close(const HttpRequest& r, bool fixed) {
    CV_ASSIGN_OR_RETURN(Params params, ParamsOf(r));
    CV_ASSIGN_OR_RETURN(int64_t wid, params.GetInt("wid", 1, kMaxWriters));
    CV_ASSIGN_OR_RETURN(int64_t count, params.GetInt("chunk-count", fixed ? 0 : 1, INT64_MAX));
    CV_ASSIGN_OR_RETURN(int64_t size, params.GetInt("size", fixed ? 0 : 1, INT64_MAX));
    CV_ASSIGN_OR_RETURN(std::string csum_hex, params.GetString("csum"));
    CV_ASSIGN_OR_RETURN(Digest csum, DigestFromHex(csum_hex));
    std::string name;
    Bytes raw;
    {
      std::lock_guard lock(mu_);
      CV_RETURN_IF_ERROR(CheckRunning());
      CV_ASSIGN_OR_RETURN(Writer * w, FindWriter(wid, fixed));
      if (static_cast<uint64_t>(count) != w->appended)
        return std::unexpected(Bad("close failed - unexpected chunk count (" +
                                   std::to_string(count) + " != " + std::to_string(w->appended) +
                                   ")"));
      if (!fixed) {
        if (static_cast<uint64_t>(size) != w->end)
          return std::unexpected(Bad("close failed - unexpected file size (" +
                                     std::to_string(size) + " != " + std::to_string(w->end) + ")"));
        DynamicIndex index;
        index.uuid = NewUuid();
        index.ctime = std::time(nullptr);
        index.entries = w->entries;
        if (index.ComputeChecksum() != csum)
          return std::unexpected(Bad("close failed - got unexpected checksum"));
        raw = index.Encode();
      } else {
        const uint64_t u_size = static_cast<uint64_t>(size);
        if (!w->incremental) {
          if (w->declared_size && u_size != *w->declared_size)
            return std::unexpected(Bad("close failed - unexpected file size"));
          if (u_size != w->size) return std::unexpected(Bad("close failed - unexpected file size"));
          if (w->digests.size() != static_cast<uint64_t>(count))
            return std::unexpected(Bad("close failed - unexpected chunk count (" +
                                       std::to_string(count) +
                                       " != " + std::to_string(w->digests.size()) + ")"));
        }
        FixedIndex index;
        index.uuid = NewUuid();
        index.ctime = std::time(nullptr);
        index.size = w->size;
        index.chunk_size = kFixedChunkSize;
        index.digests = w->digests;
        if (index.ComputeChecksum() != csum)
          return std::unexpected(Bad("close failed - got unexpected checksum"));
        for (const Digest& d : index.digests)
          if (d == Digest{})
            return std::unexpected(Bad("close failed - the image has chunks never written"));
        raw = index.Encode();
      }
      name = w->name;
      w->closed = true;  // no more appends; the write below may still fail
    }
    CV_RETURN_IF_ERROR(upload_->WriteIndex(name, raw));
    std::lock_guard lock(mu_);
    files_ += 1;
    return JsonAnswer(nullptr);
  }

  Result<HttpResponse> UploadBlob(const HttpRequest& r) {
    const Params& q = r.query;
    CV_ASSIGN_OR_RETURN(std::string name, q.GetString("file-name"));
    CV_ASSIGN_OR_RETURN(int64_t encoded, q.GetInt("encoded-size", 12, kMaxEncodedBlob));
    if (!name.ends_with(".blob"))
      return std::unexpected(Bad("wrong blob file extension: '" + name + "'"));
    if (r.body.size() != static_cast<uint64_t>(encoded))
      return std::unexpected(Bad("got blob with unexpected length (" +
                                 std::to_string(r.body.size()) + " != " + std::to_string(encoded) +
                                 ")"));
    {
      std::lock_guard lock(mu_);
      CV_RETURN_IF_ERROR(CheckRunning());
      bytes_received_ += r.body.size();
    }
    CV_RETURN_IF_ERROR(upload_->WriteBlob(name, r.body));
    std::lock_guard lock(mu_);
    files_ += 1;
    total_.size += r.body.size();
    if (p_.metrics) p_.metrics->bytes_received += r.body.size();
    return JsonAnswer(nullptr);
  }

  Result<HttpResponse> Finish() {
    nlohmann::json stats;
    {
      std::lock_guard lock(mu_);
      CV_RETURN_IF_ERROR(CheckRunning());
      for (const auto& [wid, w] : writers_)
        if (!w.closed)
          return std::unexpected(Bad("found open index writer - unable to finish backup"));
      if (files_ == 0)
        return std::unexpected(Bad("backup does not contain valid files (file count == 0)"));
      finishing_ = true;
      stats = {{"count", total_.count},
               {"size", total_.size},
               {"compressed_size", total_.compressed_size},
               {"duplicates", total_.duplicates}};
    }
    Status st = upload_->Finish({{"chunk_upload_stats", stats}});
    std::lock_guard lock(mu_);
    finishing_ = false;
    CV_RETURN_IF_ERROR(st);
    finished_ = true;
    return JsonAnswer(nullptr);
  }

  BackupSessionParams p_;
  std::unique_ptr<UploadSession> upload_;
  const std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::map<int64_t, Writer> writers_ CV_GUARDED_BY(mu_);
  int64_t next_wid_ CV_GUARDED_BY(mu_) = 1;
  std::unordered_map<Digest, uint64_t, DigestHash> known_ CV_GUARDED_BY(mu_);
  UploadStats total_ CV_GUARDED_BY(mu_);
  uint64_t appended_ CV_GUARDED_BY(mu_) = 0;
  uint64_t bytes_received_ CV_GUARDED_BY(mu_) = 0;
  uint64_t files_ CV_GUARDED_BY(mu_) = 0;
  bool finishing_ CV_GUARDED_BY(mu_) = false;
  bool finished_ CV_GUARDED_BY(mu_) = false;
  std::string last_error_ CV_GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<ProtocolSession>> OpenBackupProtocol(BackupSessionParams params) {
  CV_ASSIGN_OR_RETURN(auto upload, params.store->StartUpload(params.upload));
  return std::unique_ptr<ProtocolSession>(
      std::make_unique<BackupProtocol>(std::move(params), std::move(upload)));
}

}  // namespace chunkvault::server

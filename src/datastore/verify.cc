// DatastoreImpl::Verify: re-read every chunk a snapshot references and check it.
//
// As in PBS (src/backup/verify.rs): each distinct chunk is checked once per
// run, however many snapshots share it; a corrupt chunk is renamed to
// <digest>.<n>.bad so the next backup writes a good copy; each snapshot's
// result goes into its manifest as unprotected.verify_state.
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "chunkvault/blob.h"
#include "chunkvault/index.h"
#include "datastore/archive_names.h"
#include "datastore/chunk_access.h"
#include "datastore/datastore_impl.h"
#include "store/snapshot_store.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

// A task id PBS's UPID parser accepts, for verify_state.upid.
std::string MakeUpid(Env* env, const std::string& store) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string node;
  for (const char* p = host; *p && *p != '.'; ++p)
    node += (std::isalnum(static_cast<unsigned char>(*p)) || *p == '-') ? *p : '-';
  if (node.empty() || !std::isalnum(static_cast<unsigned char>(node.front()))) node = "localhost";
  while (!std::isalnum(static_cast<unsigned char>(node.back()))) node.pop_back();
  const int64_t now = env->NowUnix();
  char buf[128];
  std::snprintf(buf, sizeof buf, ":%08X:%08X:%08X:%08X:verificationjob:", unsigned(::getpid()),
                unsigned(now), unsigned(::getpid() ^ now), unsigned(now));
  return "UPID:" + node + buf + store + ":" + CurrentAuthId() + ":";
}

// Chunk results shared by all snapshots of one run.
class ChunkChecker {
 public:
  ChunkChecker(ChunkAccess* access, const VerifyOptions& options, VerifyObserver* observer,
               size_t jobs)
      : access_(access), options_(options), observer_(observer), pool_(jobs, jobs * 2) {}

  // Chunks of an archive: plain, or encrypted (with `key` when it is
  // known, which must outlive the run).
  struct Mode {
    bool encrypted = false;
    const CryptKey* key = nullptr;
  };

  // Queues the digests not yet seen in this run.
  void Schedule(const std::vector<ChunkRef>& chunks, Mode mode) {
    for (const ChunkRef& c : chunks) {
      {
        std::lock_guard lock(mu_);
        if (!scheduled_.insert(c.digest).second) continue;
      }
      pool_.Submit([this, d = c.digest, mode] { CheckOne(d, mode); });
    }
  }
  void Wait() { pool_.WaitIdle(); }

  // The data size of a chunk found good, if it was.
  std::optional<uint64_t> SizeOf(const Digest& d) {
    std::lock_guard lock(mu_);
    auto it = sizes_.find(d);
    return it == sizes_.end() ? std::nullopt : std::optional<uint64_t>(it->second);
  }

  // Digests of `digests` found bad (missing or corrupt).
  size_t CountBad(const std::vector<Digest>& digests) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const Digest& d : digests) n += bad_index_.count(d);
    return n;
  }

  void Fill(VerifyReport& report) {
    std::lock_guard lock(mu_);
    report.chunks = chunks_;
    report.chunk_bytes = bytes_;
    report.keyless_chunks = keyless_;
    report.bad_chunks = bad_;
  }

 private:
  // Without the key, what a server can check: the CRC, and that the
  // chunk is encrypted. The size inside is sealed.
  Status CheckKeyless(const Digest& d, ReadFrom from) {
    auto raw = WithContext(access_->ReadRaw(d, from),
                           "chunk " + ToHex(d) + " (" + access_->Describe(d) + ")");
    if (!raw) return std::unexpected(std::move(raw).error());
    const std::string where = "chunk " + ToHex(d) + " (" + access_->Describe(d) + ")";
    auto encrypted = CheckStoredChunk(*raw, d);
    if (!encrypted) return std::unexpected(std::move(encrypted).error().Context(where));
    if (!*encrypted)
      return Fail(ErrorCode::kCorrupt, where + ": not encrypted, but its archive is");
    return {};
  }

  void CheckOne(const Digest& d, Mode mode) {
    const ReadFrom from = options_.use_cache ? ReadFrom::kAny : ReadFrom::kBackend;
    Result<Bytes> data = Bytes();
    bool keyless = mode.encrypted && mode.key == nullptr;
    if (keyless) {
      if (auto st = CheckKeyless(d, from); !st) data = std::unexpected(std::move(st).error());
    } else {
      data = ReadChunkData(*access_, d, from, mode.encrypted ? mode.key : nullptr);
    }
    std::lock_guard lock(mu_);
    ++chunks_;
    if (data && keyless) {
      ++keyless_;
    } else if (data) {
      bytes_ += data->size();
      sizes_.emplace(d, data->size());
    } else {
      BadChunk bad{d, data.error().message(), ""};
      // A missing chunk has nothing to move aside.
      if (options_.rename_bad && data.error().code() != ErrorCode::kNotFound) {
        auto moved = access_->MarkBad(d);
        if (moved) bad.renamed_to = *moved;
      }
      bad_index_[d] = bad_.size();
      bad_.push_back(bad);
      if (observer_) observer_->OnError(bad.error + (bad.renamed_to.empty() ? "" : "; renamed to " + bad.renamed_to));
    }
    if (observer_) observer_->OnProgress(chunks_, bytes_);
  }

  ChunkAccess* const access_;
  const VerifyOptions options_;
  VerifyObserver* const observer_;
  std::mutex mu_;  // guards everything below and serialises observer calls
  std::unordered_set<Digest, DigestHash> scheduled_;
  std::unordered_map<Digest, size_t, DigestHash> bad_index_;
  std::unordered_map<Digest, uint64_t, DigestHash> sizes_;  // of the good ones
  std::vector<BadChunk> bad_;
  uint64_t chunks_ = 0, bytes_ = 0, keyless_ = 0;
  ThreadPool pool_;  // last: joined before the state above goes
};

// What restore needs of an archive's chunks beyond each chunk's own
// checks: every chunk spans something (offsets strictly increase) and
// holds exactly the bytes its index entry spans. Findings name the file,
// the chunk and both sizes; at most a few per file, then how many more.
void CheckChunkSpans(const std::string& name, const std::string& file,
                     const std::vector<ChunkRef>& chunks, ChunkChecker& checker,
                     std::vector<std::string>& errors) {
  constexpr size_t kShown = 5;
  size_t found = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ChunkRef& c = chunks[i];
    std::string problem;
    if (c.size == 0) {
      problem = "is empty: it ends where the previous one does (offsets must increase)";
    } else if (auto size = checker.SizeOf(c.digest); size && *size != c.size) {
      problem =
          "holds " + std::to_string(*size) + " bytes, the index says " + std::to_string(c.size);
    }
    if (problem.empty()) continue;
    if (++found <= kShown)
      errors.push_back(name + ": " + file + ": chunk " + std::to_string(i) + " (" +
                       ToHex(c.digest) + ") at offset " + std::to_string(c.offset) + " " + problem);
  }
  if (found > kShown)
    errors.push_back(name + ": " + file + ": " + std::to_string(found - kShown) +
                     " more chunks whose size differs from their index entry");
}

}  // namespace

Result<VerifyReport> DatastoreImpl::Verify(const std::vector<SnapshotRef>& requested,
                                           const VerifyOptions& options, VerifyObserver* observer) {
  VerifyReport report;
  std::vector<SnapshotRef> targets = requested;
  if (targets.empty()) {
    CV_ASSIGN_OR_RETURN(auto all, snapshots_->ListSnapshotsIn(BackupNamespace{}, true));
    for (const SnapshotEntry& e : all) {
      if (e.complete) targets.push_back(e.ref);
      else report.skipped.push_back(e.ref.ToString() + ": incomplete (no manifest)");
    }
  }

  const std::string upid = MakeUpid(env_, name_);
  ChunkChecker checker(access_.get(), options, observer, jobs_);
  for (const SnapshotRef& snap : targets) {
    const std::string name = snap.ToString();
    auto lock = LockSnapshot(snap, false);
    if (!lock) {
      if (lock.error().code() == ErrorCode::kBusy && requested.empty()) {
        report.skipped.push_back(name + ": " + lock.error().message());
        continue;
      }
      return std::unexpected(std::move(lock).error());
    }
    auto manifest = snapshots_->ReadManifest(snap);
    if (!manifest) {
      if (manifest.error().code() == ErrorCode::kNotFound && requested.empty()) {
        report.skipped.push_back(name + ": incomplete (no manifest)");
        continue;
      }
      report.errors.push_back(name + ": " + manifest.error().message());
      ++report.snapshots_failed;
      if (observer) observer->OnSnapshot(snap, false);
      continue;
    }
    size_t errors_before = report.errors.size();
    // The key, if it is this snapshot's: then its signature is checked
    // and its encrypted files decrypted.
    const CryptKey* key = nullptr;
    if (options.key) {
      auto made_with = manifest->KeyFingerprintOf();
      if (made_with && *made_with && **made_with == options.key->fingerprint()) {
        key = options.key.get();
        if (auto st = manifest->CheckKey(key); !st)
          report.errors.push_back(name + ": " + st.error().message());
      }
    }
    std::vector<Digest> digests;
    std::vector<std::pair<std::string, std::vector<ChunkRef>>> archives;
    for (const ManifestFile& f : manifest->files) {
      auto raw = ReadCheckedFile(snap, *manifest, f.filename);
      if (!raw) {
        report.errors.push_back(name + ": " + raw.error().message());
        continue;
      }
      const bool encrypted = f.crypt_mode == CryptMode::kEncrypt;
      if (*ArchiveKindOf(f.filename) == ArchiveReader::Kind::kBlob) {
        // Without the key an encrypted blob's CRC (checked on reading it)
        // is all there is to check.
        auto data = DecodeBlob(*raw, kMaxBlobSize, encrypted ? key : nullptr);
        if (!data && !(data.error().code() == ErrorCode::kEncrypted && encrypted && !key))
          report.errors.push_back(name + ": " + f.filename + ": " + data.error().message());
        continue;
      }
      auto chunks = IndexChunks(f.filename, *raw);
      if (!chunks) {
        report.errors.push_back(name + ": " + f.filename + ": " + chunks.error().message());
        continue;
      }
      for (const ChunkRef& c : *chunks) digests.push_back(c.digest);
      checker.Schedule(*chunks, {encrypted, encrypted ? key : nullptr});
      archives.emplace_back(f.filename, std::move(*chunks));
    }
    checker.Wait();
    for (const auto& [file, chunks] : archives)
      CheckChunkSpans(name, file, chunks, checker, report.errors);
    if (size_t bad = checker.CountBad(digests); bad > 0)
      report.errors.push_back(name + ": " + std::to_string(bad) + " bad chunk" +
                              (bad == 1 ? "" : "s"));
    const bool ok = report.errors.size() == errors_before;
    ok ? ++report.snapshots_ok : ++report.snapshots_failed;
    if (options.update_manifest) {
      auto st = UpdateManifest(snap, [&](Manifest& m) -> Status {
        m.unprotected["verify_state"] = {{"state", ok ? "ok" : "failed"}, {"upid", upid}};
        return {};
      });
      if (!st) report.errors.push_back(name + ": recording the result: " + st.error().message());
    }
    if (observer) observer->OnSnapshot(snap, ok);
  }
  checker.Fill(report);
  return report;
}

}  // namespace chunkvault

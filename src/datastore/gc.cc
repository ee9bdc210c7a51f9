// Garbage collection (docs/architecture.md, "How a request flows"):
//
//   0. list   on S3, the bucket's chunk objects, once (ListObjectsV2).
//   1. mark   read every index file of every snapshot (complete or not) and
//             touch each referenced chunk's file or marker; on S3 a chunk
//             with neither gets a marker if the listing has its object, and
//             is reported missing otherwise: a marker tells backups the
//             chunk is stored, and one for a chunk verify moved aside would
//             keep the next backup from storing it again. A dry run only
//             collects the set.
//   2. plan   every chunk (local file or marker, listed object) that is not
//             referenced and whose local atime is older than the cutoff
//             (an object without a local file counts as old; one uploaded
//             after the listing waits for the next run); the same
//             for the copies verify moved aside (<digest>.<n>.bad), which
//             nothing references: like PBS, they go once their atime is
//             older than the cutoff (a rename keeps the chunk's atime).
//   3. sweep  per batch of .chunks/<4hex> directories, locked exclusively
//             in ascending order: re-check each planned chunk's atime (a
//             backup may have touched it since), remove the local file and
//             the cache entry, then the bucket objects (DeleteObjects).
//
// Local before bucket: a crash in between leaves an object without a local
// file, which the next run removes; never a local copy of a chunk the
// bucket lost, which a backup would trust.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "cache/chunk_cache.h"
#include "datastore/archive_names.h"
#include "datastore/chunk_access.h"
#include "datastore/datastore_impl.h"
#include "datastore/writers.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "util/crash_point.h"

namespace chunkvault {

namespace {

constexpr size_t kDeleteBatch = 1000;  // DeleteObjects' limit

struct Candidate {
  Digest digest;
  std::string bad;      // ".<n>.bad" for a copy verify moved aside; "" for the chunk
  uint64_t bytes = 0;   // local file or object, whichever is larger
  bool object = false;  // in the bucket
};

bool IsIndex(const std::string& name) { return name.ends_with(".didx") || name.ends_with(".fidx"); }

// Adds `path` (named `name`) to `out` if it is a temporary file a writer
// killed midway left (IsTemporaryFileName) and last changed before
// `cutoff_ns`. A running writer's own are newer: the cutoff is before it
// started.
void AddIfStaleTemporary(Env* env, const std::string& name, const std::string& path,
                         int64_t cutoff_ns, std::vector<std::string>& out) {
  if (!IsTemporaryFileName(name)) return;  // anything else is not ours to remove
  auto st = env->Stat(path);
  if (st && st->type == FileType::kRegular && st->mtime * 1'000'000'000 < cutoff_ns)
    out.push_back(path);
}

// The same for every file in `dir`.
Status FindTemporaries(Env* env, const std::string& dir, int64_t cutoff_ns,
                       std::vector<std::string>& out) {
  auto names = env->ListDir(dir);
  if (!names)
    return names.error().code() == ErrorCode::kNotFound ? Status()
                                                        : Status(std::unexpected(names.error()));
  for (const std::string& name : *names)
    AddIfStaleTemporary(env, name, JoinPath(dir, name), cutoff_ns, out);
  return {};
}

// "<prefix>.chunks/<4hex>/<name>" -> its chunk file name.
std::optional<ChunkFileName> ChunkNameOfKey(const std::string& key) {
  const size_t slash = key.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return ParseChunkFileName(std::string_view(key).substr(slash + 1));
}

}  // namespace

Result<GcReport> DatastoreImpl::GarbageCollect(const GcOptions& options, GcObserver* observer) {
  if (options.atime_cutoff_minutes < 0 || options.atime_cutoff_minutes > 100LL * 366 * 24 * 60)
    return Fail(ErrorCode::kInvalidArgument,
                "the atime cutoff must be between 0 and 100 years, not " +
                    std::to_string(options.atime_cutoff_minutes) + " minutes");
  auto gc_lock = env_->Lock(JoinPath(path_, ".gc-lock"), LockMode::kExclusive, /*wait=*/false);
  if (!gc_lock) {
    if (gc_lock.error().code() == ErrorCode::kBusy)
      return Fail(ErrorCode::kBusy, "another garbage collection is running on " + path_);
    return std::unexpected(gc_lock.error());
  }
  GcReport report;
  report.dry_run = options.dry_run;
  const BackendCounts requests_before = backend_ ? backend_->Counts() : BackendCounts{};
  // In nanoseconds: with a cutoff of 0 minutes, a chunk last used a moment
  // before this run is unused, one used a moment after is not.
  int64_t cutoff = env_->NowNanos() - options.atime_cutoff_minutes * 60 * 1'000'000'000;
  CV_ASSIGN_OR_RETURN(auto oldest_writer, OldestWriterStart(env_, path_));
  if (oldest_writer && *oldest_writer < cutoff) cutoff = *oldest_writer;
  report.cutoff = cutoff / 1'000'000'000;

  // 0. List: sorted by (digest, bad suffix), the chunk's own object first.
  struct Listed {
    ChunkFileName name;
    uint64_t size = 0;
  };
  std::vector<Listed> listed;
  if (backend_) {
    CV_RETURN_IF_ERROR(backend_->List(key_prefix() + ".chunks/", [&](const ObjectInfo& o) -> Status {
      auto name = ChunkNameOfKey(o.key);
      if (name) listed.push_back(Listed{std::move(*name), o.size});  // else a stray
      return {};
    }));
  }
  auto by_name = [](const Listed& a, const Listed& b) {
    return std::tie(a.name.digest, a.name.bad) < std::tie(b.name.digest, b.name.bad);
  };
  std::sort(listed.begin(), listed.end(), by_name);
  auto in_bucket = [&listed, &by_name](const Digest& d) {
    return std::binary_search(listed.begin(), listed.end(), Listed{ChunkFileName{d, ""}, 0}, by_name);
  };

  // 1. Mark.
  std::unordered_set<Digest, DigestHash> referenced;
  CV_ASSIGN_OR_RETURN(auto snapshots, snapshots_->ListSnapshotsIn(BackupNamespace{}, true));
  // Temporary files older than the cutoff: the store's own, its groups'
  // and snapshots' (the chunk directories' are found by the plan's walk).
  std::vector<std::string> temporaries;
  std::set<std::string> metadata_dirs = {path_, JoinPath(path_, ".cache")};
  for (const SnapshotEntry& snap : snapshots) {
    metadata_dirs.insert(snapshots_->Path(snap.ref.group));
    metadata_dirs.insert(snapshots_->Path(snap.ref));
  }
  for (const std::string& dir : metadata_dirs)
    CV_RETURN_IF_ERROR(FindTemporaries(env_, dir, cutoff, temporaries));
  for (const SnapshotEntry& snap : snapshots) {
    if (snap.complete) {
      if (std::string damage = DamageOf(snap.ref); !damage.empty())
        report.damaged.push_back(snap.ref.ToString() + ": " + damage);
    }
    auto files = snapshots_->ListFiles(snap.ref);
    if (!files) {
      if (files.error().code() == ErrorCode::kNotFound) continue;  // forgotten meanwhile
      return std::unexpected(files.error());
    }
    for (const std::string& name : *files) {
      if (!IsIndex(name)) continue;
      auto raw = snapshots_->ReadFile(snap.ref, name, kMaxIndexFileSize);
      if (!raw && raw.error().code() == ErrorCode::kNotFound) continue;
      // An index that cannot be read could reference anything: stop
      // before anything is removed.
      if (!raw) return std::unexpected(std::move(raw).error().Context("garbage collection"));
      auto chunks = IndexChunks(name, *raw);
      if (!chunks)
        return std::unexpected(std::move(chunks).error().Context(
            "garbage collection: " + snap.ref.ToString() + "/" + name));
      ++report.index_files;
      for (const ChunkRef& c : *chunks) {
        if (!referenced.insert(c.digest).second) continue;
        // A dry run finds what the real run would, changing nothing.
        auto size = chunks_->StoredSize(c.digest);
        if (!size) return std::unexpected(size.error());
        if (*size) {
          if (!options.dry_run) CV_RETURN_IF_ERROR(chunks_->Touch(c.digest));
        } else if (backend_ && in_bucket(c.digest)) {
          // In the bucket: a marker carries the mark, as PBS does.
          if (options.dry_run) continue;
          CV_ASSIGN_OR_RETURN(bool created, chunks_->WriteMarker(c.digest));
          report.markers_written += created;
          CrashPoint("gc-marker");
        } else {
          report.missing.push_back(ToHex(c.digest));
        }
      }
      if (observer) observer->OnMark(report.index_files, referenced.size());
    }
  }
  report.referenced = referenced.size();
  CrashPoint("gc-marked");

  // 2. Plan.
  std::unordered_map<Digest, Candidate, DigestHash> plan;
  std::unordered_set<Digest, DigestHash> recent;  // unreferenced, newer than the cutoff
  // Copies moved aside, by (digest, suffix): the old ones, and the others.
  using BadName = std::pair<Digest, std::string>;
  std::map<BadName, Candidate> bad_plan;
  std::set<BadName> bad_recent;
  uint64_t checked = 0;
  CV_RETURN_IF_ERROR(chunks_->ForEachChunk(
      [&](const ChunkFileName& name, const std::string& path) -> Status {
        auto st = env_->Stat(path);
        if (!st)
          return st.error().code() == ErrorCode::kNotFound ? Status()
                                                           : Status(std::unexpected(st.error()));
        ++checked;
        const Digest& d = name.digest;
        if (!name.bad.empty()) {
          if (st->atime_ns >= cutoff) {
            ++report.still_bad;
            bad_recent.emplace(d, name.bad);
          } else {
            bad_plan[{d, name.bad}] = Candidate{d, name.bad, st->size, false};
          }
          return {};
        }
        if (referenced.count(d)) {
          ++report.kept;
          report.kept_bytes += st->size;
        } else if (st->atime_ns >= cutoff) {
          ++report.pending;
          report.pending_bytes += st->size;
          recent.insert(d);
        } else {
          plan[d] = Candidate{d, "", st->size, false};
        }
        return {};
      },
      [&](const std::string& name, const std::string& path) -> Status {
        AddIfStaleTemporary(env_, name, path, cutoff, temporaries);
        return {};
      }));
  for (const Listed& o : listed) {
    const Digest& d = o.name.digest;
    if (!o.name.bad.empty()) {
      const BadName file{d, o.name.bad};
      if (bad_recent.count(file)) continue;  // counted as still bad above
      Candidate& c = bad_plan[file];
      if (c.bad.empty()) {  // no local copy: counts as old
        ++checked;
        c = Candidate{d, o.name.bad, o.size, true};
      }
      c.object = true;
      c.bytes = std::max(c.bytes, o.size);
      continue;
    }
    if (referenced.count(d)) continue;
    auto it = plan.find(d);
    if (it != plan.end()) {
      it->second.object = true;
      it->second.bytes = std::max(it->second.bytes, o.size);
      continue;
    }
    if (recent.count(d)) continue;  // counted as pending above
    // No local trace when the directory was read: unused. (A marker
    // written since is seen by the sweep's re-check.)
    ++checked;
    plan[d] = Candidate{d, "", o.size, true};
  }
  std::vector<Candidate> todo;
  todo.reserve(plan.size() + bad_plan.size());
  for (auto& [d, c] : plan) todo.push_back(c);
  for (auto& [name, c] : bad_plan) todo.push_back(c);
  std::sort(todo.begin(), todo.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.digest, a.bad) < std::tie(b.digest, b.bad);
  });
  // Counts a candidate as removed.
  auto count_removed = [&report](const Candidate& c) {
    ++(c.bad.empty() ? report.removed : report.removed_bad);
    report.removed_bytes += c.bytes;
    report.removed_objects += c.object;
  };
  if (options.dry_run) {
    report.removed_temporary = temporaries.size();
    for (const Candidate& c : todo) count_removed(c);
    if (backend_) report.requests = backend_->Counts() - requests_before;
    return report;
  }

  // 3. Sweep, in batches of directories locked in ascending order.
  ChunkCache* cache = nullptr;
  if (backend_) {
    CV_ASSIGN_OR_RETURN(cache, Cache());
  }
  auto dir_of = [](const Digest& d) { return unsigned(d[0]) << 8 | d[1]; };
  size_t at = 0;
  while (at < todo.size()) {
    std::vector<std::unique_ptr<FileLock>> locks;
    std::vector<std::string> keys;
    std::vector<const Candidate*> batch;
    unsigned last_dir = ~0u;
    for (; at < todo.size(); ++at) {
      const Candidate& c = todo[at];
      if (dir_of(c.digest) != last_dir) {
        if (locks.size() >= std::max<size_t>(options.dirs_per_batch, 1) ||
            keys.size() >= kDeleteBatch - 64)
          break;
        CV_ASSIGN_OR_RETURN(auto lock, chunks_->LockDir(c.digest, /*exclusive=*/true));
        locks.push_back(std::move(lock));
        last_dir = dir_of(c.digest);
      }
      // A backup may have touched (or written) it since the plan; verify
      // may have moved a copy aside that has the chunk's recent atime.
      const std::string path = chunks_->ChunkPath(c.digest) + c.bad;
      auto st = env_->Stat(path);
      if (st && st->atime_ns >= cutoff) {
        if (!c.bad.empty()) {
          ++report.still_bad;
          continue;
        }
        ++report.pending;
        report.pending_bytes += st->size;
        continue;
      }
      if (st) {
        if (!c.bad.empty()) {
          auto removed = env_->RemoveFile(path);
          if (!removed && removed.error().code() != ErrorCode::kNotFound)
            return std::unexpected(std::move(removed).error());
        } else {
          CV_RETURN_IF_ERROR(chunks_->Remove(c.digest));
          if (cache) CV_RETURN_IF_ERROR(cache->Erase(c.digest));
        }
        CrashPoint("gc-local-removed");
      } else if (!backend_) {
        continue;  // gone already
      }
      // Objects go too when only a local file was seen: a listing can miss
      // an object written after it, and deleting a missing key is harmless.
      if (backend_) keys.push_back(ChunkKey(key_prefix(), c.digest) + c.bad);
      batch.push_back(&c);
    }
    if (!keys.empty()) {
      CV_RETURN_IF_ERROR(WithContext(
          backend_->DeleteMany(keys),
          "deleting " + std::to_string(keys.size()) + " chunk objects (" + keys.front() +
              (keys.size() > 1 ? " ... " + keys.back() : std::string()) + ")"));
      CrashPoint("gc-objects-deleted");
    }
    locks.clear();
    for (const Candidate* c : batch) count_removed(*c);
    if (observer) observer->OnSweep(checked, report.removed + report.removed_bad);
  }
  for (const std::string& path : temporaries) {
    Status removed = env_->RemoveFile(path);
    if (!removed && removed.error().code() != ErrorCode::kNotFound)
      return std::unexpected(std::move(removed).error());
    report.removed_temporary += bool(removed);
  }
  if (backend_) report.requests = backend_->Counts() - requests_before;
  return report;
}

}  // namespace chunkvault

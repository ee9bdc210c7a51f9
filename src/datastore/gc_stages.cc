#include "datastore/gc_stages.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "cache/chunk_cache.h"
#include "datastore/archive_names.h"
#include "datastore/chunk_access.h"
#include "util/crash_point.h"

namespace chunkvault {

namespace {

constexpr size_t kDeleteBatch = 1000;  // DeleteObjects' limit

bool IsIndex(const std::string& name) { return name.ends_with(".didx") || name.ends_with(".fidx"); }

bool ByName(const GcListing::Object& a, const GcListing::Object& b) {
  return std::tie(a.name.digest, a.name.bad) < std::tie(b.name.digest, b.name.bad);
}

// "<prefix>.chunks/<4hex>/<name>" -> its chunk file name.
std::optional<ChunkFileName> ChunkNameOfKey(const std::string& key) {
  const size_t slash = key.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return ParseChunkFileName(std::string_view(key).substr(slash + 1));
}

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

void CountRemoved(const GcCandidate& c, GcReport& report) {
  ++(c.bad.empty() ? report.removed : report.removed_bad);
  report.removed_bytes += c.bytes;
  report.removed_objects += c.object;
}

}  // namespace

Result<GcListing> GcListing::Of(Backend* backend, const std::string& key_prefix) {
  GcListing listing;
  if (backend == nullptr) return listing;
  CV_RETURN_IF_ERROR(backend->List(key_prefix + ".chunks/", [&](const ObjectInfo& o) -> Status {
    auto name = ChunkNameOfKey(o.key);
    if (name) listing.objects.push_back(Object{std::move(*name), o.size});  // else a stray
    return {};
  }));
  std::sort(listing.objects.begin(), listing.objects.end(), ByName);
  return listing;
}

bool GcListing::Has(const Digest& digest) const {
  return std::binary_search(objects.begin(), objects.end(), Object{ChunkFileName{digest, ""}, 0},
                            ByName);
}

Result<std::unordered_set<Digest, DigestHash>> GcMark(const GcMarkInput& in, GcReport& report) {
  std::unordered_set<Digest, DigestHash> referenced;
  for (const SnapshotEntry& snap : *in.entries) {
    if (snap.complete && in.damage_of) {
      if (std::string damage = in.damage_of(snap.ref); !damage.empty())
        report.damaged.push_back(snap.ref.ToString() + ": " + damage);
    }
    auto files = in.snapshots->ListFiles(snap.ref);
    if (!files) {
      if (files.error().code() == ErrorCode::kNotFound) continue;  // forgotten meanwhile
      return std::unexpected(files.error());
    }
    for (const std::string& name : *files) {
      if (!IsIndex(name)) continue;
      auto raw = in.snapshots->ReadFile(snap.ref, name, kMaxIndexFileSize);
      if (!raw && raw.error().code() == ErrorCode::kNotFound) continue;
      if (!raw) return std::unexpected(std::move(raw).error().Context("garbage collection"));
      auto chunks = IndexChunks(name, *raw);
      if (!chunks)
        return std::unexpected(std::move(chunks).error().Context(
            "garbage collection: " + snap.ref.ToString() + "/" + name));
      ++report.index_files;
      for (const ChunkRef& c : *chunks) {
        if (!referenced.insert(c.digest).second) continue;
        auto size = in.chunks->StoredSize(c.digest);
        if (!size) return std::unexpected(size.error());
        if (*size) {
          if (!in.dry_run) CV_RETURN_IF_ERROR(in.chunks->Touch(c.digest));
        } else if (in.listing != nullptr && in.listing->Has(c.digest)) {
          // In the bucket: a marker carries the mark, as PBS does.
          if (in.dry_run) continue;
          CV_ASSIGN_OR_RETURN(bool created, in.chunks->WriteMarker(c.digest));
          report.markers_written += created;
          CrashPoint("gc-marker");
        } else {
          report.missing.push_back(ToHex(c.digest));
        }
      }
      if (in.observer) in.observer->OnMark(report.index_files, referenced.size());
    }
  }
  report.referenced = referenced.size();
  return referenced;
}

Result<GcPlan> GcPlanSweep(const GcPlanInput& in, GcReport& report) {
  GcPlan out;
  out.cutoff_ns = in.cutoff_ns;
  const int64_t cutoff = in.cutoff_ns;
  for (const std::string& dir : in.metadata_dirs)
    CV_RETURN_IF_ERROR(FindTemporaries(in.env, dir, cutoff, out.temporaries));
  const auto& referenced = *in.referenced;
  std::unordered_map<Digest, GcCandidate, DigestHash> plan;
  std::unordered_set<Digest, DigestHash> recent;  // unreferenced, newer than the cutoff
  // Copies moved aside, by (digest, suffix): the old ones, and the others.
  using BadName = std::pair<Digest, std::string>;
  std::map<BadName, GcCandidate> bad_plan;
  std::set<BadName> bad_recent;
  CV_RETURN_IF_ERROR(in.chunks->ForEachChunk(
      [&](const ChunkFileName& name, const std::string& path) -> Status {
        auto st = in.env->Stat(path);
        if (!st)
          return st.error().code() == ErrorCode::kNotFound ? Status()
                                                           : Status(std::unexpected(st.error()));
        ++out.checked;
        const Digest& d = name.digest;
        if (!name.bad.empty()) {
          if (st->atime_ns >= cutoff) {
            ++report.still_bad;
            bad_recent.emplace(d, name.bad);
          } else {
            bad_plan[{d, name.bad}] = GcCandidate{d, name.bad, st->size, false};
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
          plan[d] = GcCandidate{d, "", st->size, false};
        }
        return {};
      },
      [&](const std::string& name, const std::string& path) -> Status {
        AddIfStaleTemporary(in.env, name, path, cutoff, out.temporaries);
        return {};
      }));
  if (in.listing != nullptr) {
    for (const GcListing::Object& o : in.listing->objects) {
      const Digest& d = o.name.digest;
      if (!o.name.bad.empty()) {
        const BadName file{d, o.name.bad};
        if (bad_recent.count(file)) continue;  // counted as still bad above
        GcCandidate& c = bad_plan[file];
        if (c.bad.empty()) {  // no local copy: counts as old
          ++out.checked;
          c = GcCandidate{d, o.name.bad, o.size, true};
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
      ++out.checked;
      plan[d] = GcCandidate{d, "", o.size, true};
    }
  }
  out.candidates.reserve(plan.size() + bad_plan.size());
  for (auto& [d, c] : plan) out.candidates.push_back(std::move(c));
  for (auto& [name, c] : bad_plan) out.candidates.push_back(std::move(c));
  std::sort(out.candidates.begin(), out.candidates.end(),
            [](const GcCandidate& a, const GcCandidate& b) {
              return std::tie(a.digest, a.bad) < std::tie(b.digest, b.bad);
            });
  return out;
}

void GcCountPlanned(const GcPlan& plan, GcReport& report) {
  report.removed_temporary += plan.temporaries.size();
  for (const GcCandidate& c : plan.candidates) CountRemoved(c, report);
}

Status GcSweep(const GcPlan& plan, const GcSweepInput& in, GcReport& report) {
  const std::vector<GcCandidate>& todo = plan.candidates;
  auto dir_of = [](const Digest& d) { return unsigned(d[0]) << 8 | d[1]; };
  size_t at = 0;
  while (at < todo.size()) {
    std::vector<std::unique_ptr<FileLock>> locks;
    std::vector<std::string> keys;
    std::vector<const GcCandidate*> batch;
    unsigned last_dir = ~0u;
    for (; at < todo.size(); ++at) {
      const GcCandidate& c = todo[at];
      if (dir_of(c.digest) != last_dir) {
        if (locks.size() >= std::max<size_t>(in.dirs_per_batch, 1) ||
            keys.size() >= kDeleteBatch - 64)
          break;
        CV_ASSIGN_OR_RETURN(auto lock, in.chunks->LockDir(c.digest, /*exclusive=*/true));
        locks.push_back(std::move(lock));
        last_dir = dir_of(c.digest);
      }
      // A backup may have touched (or written) it since the plan; verify
      // may have moved a copy aside that has the chunk's recent atime.
      const std::string path = in.chunks->ChunkPath(c.digest) + c.bad;
      auto st = in.env->Stat(path);
      if (st && st->atime_ns >= plan.cutoff_ns) {
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
          auto removed = in.env->RemoveFile(path);
          if (!removed && removed.error().code() != ErrorCode::kNotFound)
            return std::unexpected(std::move(removed).error());
        } else {
          CV_RETURN_IF_ERROR(in.chunks->Remove(c.digest));
          if (in.cache) CV_RETURN_IF_ERROR(in.cache->Erase(c.digest));
        }
        CrashPoint("gc-local-removed");
      } else if (!in.backend) {
        continue;  // gone already
      }
      // Objects go too when only a local file was seen: a listing can miss
      // an object written after it, and deleting a missing key is harmless.
      if (in.backend) keys.push_back(ChunkKey(in.key_prefix, c.digest) + c.bad);
      batch.push_back(&c);
    }
    if (!keys.empty()) {
      CV_RETURN_IF_ERROR(WithContext(
          in.backend->DeleteMany(keys),
          "deleting " + std::to_string(keys.size()) + " chunk objects (" + keys.front() +
              (keys.size() > 1 ? " ... " + keys.back() : std::string()) + ")"));
      CrashPoint("gc-objects-deleted");
    }
    locks.clear();
    for (const GcCandidate* c : batch) CountRemoved(*c, report);
    if (in.observer) in.observer->OnSweep(plan.checked, report.removed + report.removed_bad);
  }
  for (const std::string& path : plan.temporaries) {
    Status removed = in.env->RemoveFile(path);
    if (!removed && removed.error().code() != ErrorCode::kNotFound)
      return std::unexpected(std::move(removed).error());
    report.removed_temporary += bool(removed);
  }
  return {};
}

}  // namespace chunkvault

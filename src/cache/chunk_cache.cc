#include "cache/chunk_cache.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <vector>

namespace chunkvault {

namespace {

constexpr uint64_t kCheckpointEvery = 100000;  // journal records
constexpr char kOpenMarker[] = "open";          // present while an owner runs

}  // namespace

std::string CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

ChunkCache::ChunkCache(ChunkStore* store, std::string dir, ChunkCacheOptions options)
    : store_(store), dir_(std::move(dir)), options_(std::move(options)) {}

ChunkCache::~ChunkCache() { (void)Close(); }

Result<std::unique_ptr<ChunkCache>> ChunkCache::Open(ChunkStore* store, const std::string& state_dir,
                                                     const ChunkCacheOptions& options) {
  Env* env = options.env;
  CV_RETURN_IF_ERROR(env->CreateDirs(state_dir));
  std::unique_ptr<ChunkCache> cache(new ChunkCache(store, state_dir, options));
  auto lock = env->Lock(JoinPath(state_dir, "lock"), LockMode::kExclusive, /*wait=*/false);
  if (!lock) {
    if (lock.error().code() != ErrorCode::kBusy) return std::unexpected(lock.error());
    return cache;  // another process owns the cache: read through it
  }
  cache->owner_lock_ = std::move(*lock);
  std::lock_guard guard(cache->mu_);
  CV_RETURN_IF_ERROR(cache->Recover());
  return cache;
}

Status ChunkCache::Recover() {
  CV_ASSIGN_OR_RETURN(auto opened, CacheJournal::Open(dir_, options_.env));
  auto& [journal, rec] = opened;
  journal_ = std::move(journal);
  CV_ASSIGN_OR_RETURN(policy_, NewCachePolicy(options_.policy, 0));
  if (rec.usable) {
    policy_->Load(rec.entries);
    for (const JournalRecord& r : rec.records) {
      if (r.type == JournalRecord::kInsert) {
        if (!policy_->Contains(r.digest)) policy_->Insert(r.digest, r.size);
      } else {
        policy_->Erase(r.digest);
      }
    }
  }
  // An owner that did not close cleanly left its marker. If the machine
  // rebooted since, written data may be lost or present without its
  // journal record: compare with the files once. A crashed process alone
  // loses nothing (the journal leads every file it describes).
  const std::string open_marker = JoinPath(dir_, kOpenMarker);
  auto previous = options_.env->ReadFile(open_marker, kMaxMetadataFileSize);
  const std::string boot = options_.boot_id.empty() ? CurrentBootId() : options_.boot_id;
  const bool rebooted = previous && std::string(AsString(*previous)) != boot;
  if (!rec.usable || rebooted) {
    CV_RETURN_IF_ERROR(Reconcile());
    rescanned_ = true;
  }
  CV_RETURN_IF_ERROR(options_.env->WriteFileAtomic(open_marker, AsBytes(boot), {}));
  if (rescanned_ || !rec.records.empty()) CV_RETURN_IF_ERROR(journal_->Checkpoint(policy_->name(), policy_->Dump()));
  policy_->SetCapacity(Limit());
  // The limit may have shrunk since the last run (a smaller max size, a
  // fuller disk).
  MakeRoom(0);
  return {};
}

Status ChunkCache::Reconcile() {
  struct Found {
    Digest digest;
    uint64_t size;
    int64_t atime_ns;
  };
  std::vector<Found> found;
  std::unordered_map<Digest, uint64_t, DigestHash> on_disk;
  CV_RETURN_IF_ERROR(store_->ForEachChunk([&](const ChunkFileName& name, const std::string& path) -> Status {
    if (!name.bad.empty()) return {};
    auto st = options_.env->Stat(path);
    if (st && st->type == FileType::kRegular && st->size > 0) {
      found.push_back({name.digest, st->size, st->atime_ns});
      on_disk[name.digest] = st->size;
    }
    return {};
  }));
  // Entries whose file is gone or a marker leave the state.
  for (const CachePolicy::Entry& e : policy_->Dump()) {
    if (e.queue == 2) continue;  // S3-FIFO's ghost: digests only
    auto it = on_disk.find(e.digest);
    if (it == on_disk.end() || it->second != e.size) policy_->Erase(e.digest);
  }
  // Files the state does not know join it, least recently used first.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.atime_ns < b.atime_ns; });
  for (const Found& f : found)
    if (!policy_->Contains(f.digest)) policy_->Insert(f.digest, f.size);
  return {};
}

uint64_t ChunkCache::Limit() {
  uint64_t limit = options_.max_bytes == 0 ? std::numeric_limits<uint64_t>::max() : options_.max_bytes;
  auto free = options_.free_space ? options_.free_space() : options_.env->FreeSpace(store_->base());
  if (free) {
    // What the cache holds plus what is free, less the reserve.
    uint64_t usable = policy_->bytes() + *free;
    usable = usable > options_.reserve_bytes ? usable - options_.reserve_bytes : 0;
    limit = std::min(limit, usable);
  }
  return limit;
}

Status ChunkCache::Journal(JournalRecord::Type type, const Digest& digest, uint64_t size) {
  CV_RETURN_IF_ERROR(journal_->Append({type, digest, size}));
  if (journal_->records_since_checkpoint() >= kCheckpointEvery)
    CV_RETURN_IF_ERROR(journal_->Checkpoint(policy_->name(), policy_->Dump()));
  return {};
}

Status ChunkCache::EvictOne(const Digest& victim) {
  // The victim's directory, exclusively: a backup in any process holds it
  // shared from finding the chunk known to touching it (TouchIfKnown), and
  // a touch falling between the eviction's reading the file's times and
  // the marker replacing the file would be lost (the marker carries the
  // times from before), leaving the running backup's chunk looking unused
  // to garbage collection. Without waiting: mu_ is held, and directory
  // locks come first in the lock order. A busy victim is not evicted now
  // (MakeRoom): rare, a few of the 65536 directories are locked at a time.
  CV_ASSIGN_OR_RETURN(auto lock, store_->LockDir(victim, /*exclusive=*/true, /*wait=*/false));
  auto st = store_->EvictToMarker(victim);
  if (!st && st.error().code() == ErrorCode::kNoSpace) {
    // Not even room for an empty marker: free the space by removing the
    // file (garbage collection re-marks chunks that lack a marker).
    (void)options_.env->RemoveFile(store_->ChunkPath(victim));
    st = Status();
  }
  CV_RETURN_IF_ERROR(st);
  return Journal(JournalRecord::kEvict, victim, 0);
}

bool ChunkCache::MakeRoom(uint64_t size) {
  const uint64_t limit = Limit();
  policy_->SetCapacity(limit);
  if (size > limit) return false;
  while (policy_->bytes() + limbo_bytes_ + size > limit) {
    const uint64_t before = policy_->bytes();
    auto victim = policy_->Evict();
    if (!victim) return false;
    const uint64_t freed = before - policy_->bytes();
    if (writing_.count(*victim)) {
      // Its file is still being written: the writer turns it into a
      // marker when done (Admit); until then its bytes stay counted.
      limbo_bytes_ += freed;
      limbo_[*victim] += freed;
      (void)Journal(JournalRecord::kEvict, *victim, 0);
    } else if (auto st = EvictOne(*victim); !st) {
      // The file could not be replaced (or its directory is locked, see
      // EvictOne): keep counting it, stop here.
      policy_->Insert(*victim, freed);
      return false;
    }
    counters_.evictions.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes_evicted.fetch_add(freed, std::memory_order_relaxed);
  }
  return true;
}

Result<bool> ChunkCache::Known(const Digest& digest) {
  CV_ASSIGN_OR_RETURN(auto size, store_->StoredSize(digest));
  return size.has_value();
}

Result<bool> ChunkCache::TouchIfKnown(const Digest& digest) {
  // No eviction of this chunk can run meanwhile, in this process or the
  // cache's owner: the caller's directory lock keeps EvictOne out.
  CV_ASSIGN_OR_RETURN(bool known, Known(digest));
  if (!known) return false;
  CV_RETURN_IF_ERROR(store_->Touch(digest));
  counters_.uploads_skipped.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Result<std::optional<Bytes>> ChunkCache::Lookup(const Digest& digest, bool promote) {
  auto raw = store_->ReadRaw(digest);
  const bool cached = raw && !raw->empty();
  if (!raw && raw.error().code() != ErrorCode::kNotFound) return std::unexpected(raw.error());
  if (owner_lock_) {
    std::lock_guard lock(mu_);
    if (!closed_) {
      if (cached && policy_->Contains(digest)) {
        if (promote) policy_->Hit(digest);
      } else if (cached) {
        // A cached file the state does not know (left by an older version,
        // or copied in): take it over so that it can be evicted.
        if (MakeRoom(raw->size()) && Journal(JournalRecord::kInsert, digest, raw->size()))
          policy_->Insert(digest, raw->size());
      } else if (policy_->Contains(digest)) {
        // The state said cached, the disk says not: drop the stale entry.
        policy_->Erase(digest);
        (void)Journal(JournalRecord::kErase, digest, 0);
      }
    }
  }
  if (!cached) {
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return std::optional<Bytes>();
  }
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_hit.fetch_add(raw->size(), std::memory_order_relaxed);
  return std::optional<Bytes>(std::move(*raw));
}

Result<bool> ChunkCache::Admit(const Digest& digest, ByteView blob) {
  auto reject = [&]() -> Result<bool> {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    CV_RETURN_IF_ERROR(Mark(digest));
    return false;
  };
  if (!owner_lock_) return reject();
  {
    std::lock_guard lock(mu_);
    if (closed_) return reject();
    if (policy_->Contains(digest)) {
      // Known to the state: make sure the file is really there.
      auto size = store_->StoredSize(digest);
      if (size && *size && **size > 0) return true;
      policy_->Erase(digest);
    }
    if (!MakeRoom(blob.size())) return reject();
    // The journal leads: a crash after this line leaves a record without a
    // file (dropped lazily), never a file without a record.
    if (!Journal(JournalRecord::kInsert, digest, blob.size())) return reject();
    policy_->Insert(digest, blob.size());
    ++writing_[digest];
  }
  // The file is written outside the lock, so that admissions overlap. If
  // the policy evicts the entry meanwhile (EvictOne finds no file yet and
  // only journals it), the file is turned into a marker right after.
  auto written = store_->Insert(digest, blob);
  if (!written && written.error().code() == ErrorCode::kNoSpace) {
    // The disk filled behind our back (Limit() saw free space that is
    // gone now): the limit re-read from the filesystem shrinks, so making
    // room for another copy of this chunk evicts what the disk needs.
    bool room;
    {
      std::lock_guard lock(mu_);
      room = MakeRoom(blob.size()) && policy_->Contains(digest);
    }
    if (room) written = store_->Insert(digest, blob);
  }
  std::lock_guard lock(mu_);
  if (--writing_[digest] == 0) writing_.erase(digest);
  if (auto it = limbo_.find(digest); it != limbo_.end() && !writing_.count(digest)) {
    // Evicted while being written (MakeRoom): the marker below (or the
    // failed write) ends its time in limbo.
    limbo_bytes_ -= it->second;
    limbo_.erase(it);
  }
  if (!written) {
    if (policy_->Contains(digest)) {
      policy_->Erase(digest);
      (void)Journal(JournalRecord::kErase, digest, 0);
    }
    if (written.error().code() != ErrorCode::kNoSpace) return std::unexpected(written.error());
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    (void)Mark(digest);
    return false;
  }
  if (!policy_->Contains(digest)) {
    // Evicted while it was being written. Without the directory lock
    // (this caller may hold it shared): the file was written just now, so
    // the marker's times, taken from it, are as recent as any touch.
    (void)store_->EvictToMarker(digest);
    return false;
  }
  counters_.admissions.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_admitted.fetch_add(blob.size(), std::memory_order_relaxed);
  return true;
}

Status ChunkCache::Mark(const Digest& digest) {
  auto created = store_->WriteMarker(digest);
  if (!created) {
    // A marker is a hint; a full disk must not fail the work.
    if (created.error().code() == ErrorCode::kNoSpace) return {};
    return std::unexpected(created.error());
  }
  if (*created) counters_.markers.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Status ChunkCache::Erase(const Digest& digest) {
  if (!owner_lock_) return {};
  std::lock_guard lock(mu_);
  if (closed_ || !policy_->Contains(digest)) return {};
  policy_->Erase(digest);
  return Journal(JournalRecord::kErase, digest, 0);
}

Result<Bytes> ChunkCache::FetchOnce(const Digest& digest,
                                    const std::function<Result<Bytes>()>& fetch) {
  std::promise<Result<Bytes>> promise;
  {
    std::unique_lock lock(flights_mu_);
    auto it = flights_.find(digest);
    if (it != flights_.end()) {
      std::shared_future<Result<Bytes>> running = it->second;
      lock.unlock();
      counters_.joined.fetch_add(1, std::memory_order_relaxed);
      if (options_.on_join) options_.on_join();
      return running.get();
    }
    flights_.emplace(digest, promise.get_future().share());
  }
  Result<Bytes> result = fetch();
  promise.set_value(result);
  std::lock_guard lock(flights_mu_);
  flights_.erase(digest);
  return result;
}

CacheCounters ChunkCache::counters() const {
  CacheCounters c;
  c.hits = counters_.hits;
  c.misses = counters_.misses;
  c.bytes_hit = counters_.bytes_hit;
  c.admissions = counters_.admissions;
  c.bytes_admitted = counters_.bytes_admitted;
  c.evictions = counters_.evictions;
  c.bytes_evicted = counters_.bytes_evicted;
  c.rejected = counters_.rejected;
  c.markers = counters_.markers;
  c.joined = counters_.joined;
  c.uploads_skipped = counters_.uploads_skipped;
  return c;
}

CacheState ChunkCache::state() {
  CacheState s;
  s.owner = owner_lock_ != nullptr;
  std::lock_guard lock(mu_);
  if (policy_) {
    s.policy = policy_->name();
    s.bytes = policy_->bytes();
    s.chunks = policy_->count();
    s.limit = Limit();
  }
  s.rescanned = rescanned_;
  return s;
}

Status ChunkCache::Close() {
  if (!owner_lock_) return {};
  std::lock_guard lock(mu_);
  if (closed_) return {};
  closed_ = true;
  CV_RETURN_IF_ERROR(journal_->Checkpoint(policy_->name(), policy_->Dump()));
  // A clean stop: the next owner trusts the checkpoint without a scan.
  return options_.env->RemoveFile(JoinPath(dir_, kOpenMarker));
}

}  // namespace chunkvault

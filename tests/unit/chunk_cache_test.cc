// The chunk cache: journal recovery after a crash at any byte, the marker
// protocol, byte limits, restarts, guests, single flight and a full disk.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <csignal>
#include <functional>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <thread>

#include "cache/chunk_cache.h"
#include "cache/journal.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Digest D(int i) { return Sha256Of(AsBytes("chunk " + std::to_string(i))); }

// ------------------------------------------------------------- journal --

TEST(CacheJournal, RecoversEveryWholeRecordWhereverTheCrashCut) {
  TempDir tmp;
  const std::string dir = tmp / "state";
  {
    auto [j, rec] = *CacheJournal::Open(dir);
    EXPECT_FALSE(rec.usable);  // nothing yet
    std::vector<CachePolicy::Entry> entries = {{D(1), 100, 0, 0}, {D(2), 200, 1, 2}};
    ASSERT_TRUE(j->Checkpoint("s3fifo", entries).has_value());
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(j->Append({i % 3 == 0 ? JournalRecord::kEvict : JournalRecord::kInsert, D(10 + i),
                             uint64_t(i)}).has_value());
  }
  const std::string full = testing::ReadFile(dir + "/journal");
  ASSERT_EQ(full.size(), 16u + 10 * kJournalRecordSize);
  for (size_t cut = 0; cut <= full.size(); ++cut) {
    testing::WriteFile(dir + "/journal", full.substr(0, cut));
    auto opened = CacheJournal::Open(dir);
    ASSERT_TRUE(opened.has_value()) << "cut at " << cut;
    auto& [j, rec] = *opened;
    ASSERT_TRUE(rec.usable);
    ASSERT_EQ(rec.entries.size(), 2u);
    EXPECT_EQ(rec.entries[1].freq, 2);
    const size_t whole = cut < 16 ? 0 : (cut - 16) / kJournalRecordSize;
    ASSERT_EQ(rec.records.size(), whole) << "cut at " << cut;
    for (size_t i = 0; i < whole; ++i) {
      EXPECT_EQ(rec.records[i].digest, D(10 + int(i)));
      EXPECT_EQ(rec.records[i].size, i);
    }
    // New records continue right after the last whole one.
    ASSERT_TRUE(j->Append({JournalRecord::kErase, D(99), 0}).has_value());
    EXPECT_EQ(fs::file_size(dir + "/journal"), 16 + (whole + 1) * kJournalRecordSize) << "cut at " << cut;
  }
}

TEST(CacheJournal, AJournalFromBeforeTheCheckpointIsIgnored) {
  TempDir tmp;
  const std::string dir = tmp / "state";
  {
    auto [j, rec] = *CacheJournal::Open(dir);
    ASSERT_TRUE(j->Checkpoint("lru", {{D(1), 1, 0, 0}}).has_value());
    ASSERT_TRUE(j->Append({JournalRecord::kInsert, D(2), 2}).has_value());
  }
  const std::string old_journal = testing::ReadFile(dir + "/journal");
  {
    auto [j, rec] = *CacheJournal::Open(dir);
    ASSERT_TRUE(j->Checkpoint("lru", {{D(1), 1, 0, 0}, {D(2), 2, 0, 0}}).has_value());
  }
  // A crash between the new checkpoint and the new journal leaves the old one.
  testing::WriteFile(dir + "/journal", old_journal);
  auto [j, rec] = *CacheJournal::Open(dir);
  EXPECT_TRUE(rec.usable);
  EXPECT_EQ(rec.entries.size(), 2u);
  EXPECT_TRUE(rec.records.empty());
}

TEST(CacheJournal, ADamagedCheckpointIsNotUsed) {
  TempDir tmp;
  const std::string dir = tmp / "state";
  {
    auto [j, rec] = *CacheJournal::Open(dir);
    ASSERT_TRUE(j->Checkpoint("s3fifo", {{D(1), 1, 0, 0}}).has_value());
  }
  std::string state = testing::ReadFile(dir + "/state");
  state[50] ^= 1;
  testing::WriteFile(dir + "/state", state);
  auto [j, rec] = *CacheJournal::Open(dir);
  EXPECT_FALSE(rec.usable);
}

// --------------------------------------------------------------- cache --

class ChunkCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ChunkStore::Create(Env::Default(), tmp_.path()).has_value());
    store_ = std::make_unique<ChunkStore>(Env::Default(), tmp_.path(), SyncLevel::kNone);
    for (int i = 0; i < 20; ++i) blobs_.push_back(EncodeBlob(AsBytes(testing::RandomData(1000, i)), false));
  }
  ChunkCacheOptions Options(uint64_t max_bytes) {
    ChunkCacheOptions o;
    o.max_bytes = max_bytes;
    o.reserve_bytes = 0;
    o.free_space = [this]() -> Result<uint64_t> { return free_; };
    o.boot_id = boot_;
    return o;
  }
  std::unique_ptr<ChunkCache> Open(uint64_t max_bytes, std::string policy = "s3fifo") {
    auto o = Options(max_bytes);
    o.policy = policy;
    auto c = ChunkCache::Open(store_.get(), tmp_ / ".cache", o);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return std::move(*c);
  }
  uint64_t FileSize(int i) { return fs::file_size(store_->ChunkPath(D(i))); }
  size_t CachedFiles() {
    size_t n = 0;
    (void)store_->ForEachChunk([&](const ChunkFileName&, const std::string& p) -> Status {
      n += fs::file_size(p) > 0;
      return {};
    });
    return n;
  }

  // Runs `work` in a child process that then dies by SIGKILL with the
  // cache `work` returns still open: no destructor runs, the kernel drops
  // its locks. The child reports a failed step by exiting with a code.
  void KilledAfter(const std::function<std::unique_ptr<ChunkCache>()>& work) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto open = work();
      ::raise(SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child failed a step: exit " << WEXITSTATUS(status);
  }

  TempDir tmp_;
  std::unique_ptr<ChunkStore> store_;
  std::vector<Bytes> blobs_;  // 1012 bytes each
  uint64_t free_ = 1ull << 40;
  std::string boot_ = "boot-1";
};

TEST_F(ChunkCacheTest, NeverHoldsMoreBytesThanItsLimit) {
  const uint64_t blob = blobs_[0].size();
  auto cache = Open(3 * blob + blob / 2);  // room for three and a half
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(*cache->Admit(D(i), blobs_[size_t(i)]), true);
    EXPECT_LE(cache->state().bytes, 3 * blob + blob / 2);
  }
  EXPECT_EQ(cache->state().chunks, 3u);
  EXPECT_EQ(CachedFiles(), 3u);
  EXPECT_EQ(cache->counters().evictions, 7u);
  // Evicted chunks keep their name as an empty marker: still "known".
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(*cache->Known(D(i))) << i;
  EXPECT_FALSE(*cache->Known(D(11)));
}

TEST_F(ChunkCacheTest, ConcurrentAdmissionsStayWithinTheLimit) {
  // Evictions race with files still being written: an entry evicted before
  // its file exists must not leave an uncounted file behind.
  const uint64_t blob = blobs_[0].size();
  auto cache = Open(3 * blob);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round)
        for (int i = t; i < 20; i += 4) (void)cache->Admit(D(i), blobs_[size_t(i)]);
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(CachedFiles(), 3u);
  EXPECT_EQ(cache->state().chunks, CachedFiles());
  EXPECT_EQ(cache->state().bytes, CachedFiles() * blob);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(*cache->Known(D(i))) << i;
}

TEST_F(ChunkCacheTest, EvictionLeavesAMarkerAndSparesOpenReaders) {
  const uint64_t blob = blobs_[0].size();
  auto cache = Open(blob);  // one chunk
  ASSERT_TRUE(*cache->Admit(D(0), blobs_[0]));
  const std::string path = store_->ChunkPath(D(0));
  struct timespec old[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(*cache->Admit(D(1), blobs_[1]));  // evicts chunk 0
  // The name holds a new, empty marker with the chunk's times...
  EXPECT_EQ(FileSize(0), 0u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000);
  EXPECT_EQ(st.st_mtime, 2000);
  // ...while a reader that opened the chunk still reads all of it.
  Bytes read_back(blob);
  EXPECT_EQ(::pread(fd, read_back.data(), blob, 0), ssize_t(blob));
  EXPECT_EQ(read_back, blobs_[0]);
  ::close(fd);
  // A read of the evicted chunk is a miss.
  EXPECT_FALSE(cache->Lookup(D(0), true)->has_value());
  EXPECT_EQ(cache->counters().misses, 1u);
}

// A backup skipping an upload holds the chunk's directory lock, shared,
// from finding the chunk known to touching it, in whatever process it
// runs; an eviction takes the lock exclusively without waiting. A touch
// falling between the eviction's reading the file's times and the marker
// replacing the file would be lost with the old file, and the running
// backup's chunk would look unused to garbage collection: so a chunk
// whose directory is locked is not evicted until the lock is let go.
TEST_F(ChunkCacheTest, AChunkBeingTouchedIsNotEvicted) {
  const uint64_t blob = blobs_[0].size();
  auto cache = Open(blob);  // one chunk
  ASSERT_TRUE(*cache->Admit(D(0), blobs_[0]));
  {
    // As another process's backup would, between its check and its touch.
    auto touching = store_->LockDir(D(0), /*exclusive=*/false);
    ASSERT_TRUE(touching.has_value());
    EXPECT_FALSE(*cache->Admit(D(1), blobs_[1]));  // no room made: not admitted
    EXPECT_EQ(FileSize(0), blob);                  // chunk 0 still cached
    EXPECT_EQ(FileSize(1), 0u);                    // chunk 1 only marked
    EXPECT_EQ(cache->counters().evictions, 0u);
  }
  ASSERT_TRUE(*cache->Admit(D(2), blobs_[2]));  // evicts chunk 0 now
  EXPECT_EQ(FileSize(0), 0u);
  EXPECT_EQ(FileSize(2), blob);
  EXPECT_EQ(cache->counters().evictions, 1u);
}

TEST_F(ChunkCacheTest, ShrinkingFreeSpaceShrinksTheCache) {
  const uint64_t blob = blobs_[0].size();
  auto cache = Open(0);  // no configured limit: free space only
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(*cache->Admit(D(i), blobs_[size_t(i)]));
  EXPECT_EQ(cache->state().chunks, 6u);
  // Another process fills the disk: only about two chunks' worth is free.
  free_ = 2 * blob;
  ASSERT_TRUE(*cache->Admit(D(6), blobs_[6]));
  // Limit = held + free = 8 chunks' worth... minus what left: the cache
  // keeps its bytes plus the free space, so it gave back what it needed.
  free_ = 0;
  ASSERT_TRUE(*cache->Admit(D(7), blobs_[7]));
  EXPECT_LE(cache->state().bytes, cache->state().limit);
  EXPECT_EQ(cache->state().chunks, 7u);
  EXPECT_GE(cache->counters().evictions, 1u);
}

TEST_F(ChunkCacheTest, TooBigForTheCacheIsNotAdmittedButMarked) {
  auto cache = Open(100);  // smaller than any blob
  EXPECT_FALSE(*cache->Admit(D(0), blobs_[0]));
  EXPECT_EQ(cache->counters().rejected, 1u);
  EXPECT_TRUE(*cache->Known(D(0)));  // a marker: the chunk is in the bucket
  EXPECT_EQ(FileSize(0), 0u);
}

TEST_F(ChunkCacheTest, ARestartKnowsEveryCachedChunkWithoutAScan) {
  {
    auto cache = Open(1 << 20);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(*cache->Admit(D(i), blobs_[size_t(i)]));
    ASSERT_TRUE(cache->Close().has_value());
  }
  auto cache = Open(1 << 20);
  EXPECT_FALSE(cache->state().rescanned);
  EXPECT_EQ(cache->state().chunks, 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(cache->Lookup(D(i), true)->has_value());
  EXPECT_EQ(cache->counters().hits, 5u);
}

TEST_F(ChunkCacheTest, AKilledOwnerLosesNothingAndARebootIsReconciled) {
  // A crash: the owner dies without Close(); its journal is all there is.
  KilledAfter([&] {
    auto cache = Open(1 << 20);
    for (int i = 0; i < 5; ++i)
      if (!*cache->Admit(D(i), blobs_[size_t(i)])) _exit(3);
    return cache;
  });
  KilledAfter([&] {
    auto cache = Open(1 << 20);
    if (cache->state().rescanned) _exit(4);  // same boot: the journal is complete
    if (cache->state().chunks != 5) _exit(5);
    // Someone copies a chunk in behind the cache's back...
    if (!store_->Insert(D(7), blobs_[7])) _exit(6);
    return cache;
  });
  boot_ = "boot-2";  // ...and the machine reboots
  auto cache = Open(1 << 20);
  EXPECT_TRUE(cache->state().rescanned);
  EXPECT_EQ(cache->state().chunks, 6u) << "the stray file became evictable";
}

TEST_F(ChunkCacheTest, LostStateIsRebuiltFromTheFiles) {
  {
    auto cache = Open(1 << 20);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(*cache->Admit(D(i), blobs_[size_t(i)]));
  }
  fs::remove_all(tmp_ / ".cache");
  auto cache = Open(1 << 20);
  EXPECT_TRUE(cache->state().rescanned);
  EXPECT_EQ(cache->state().chunks, 4u);
  EXPECT_EQ(cache->state().bytes, 4 * blobs_[0].size());
}

TEST_F(ChunkCacheTest, ASecondProcessReadsThroughWithoutAdmitting) {
  auto owner = Open(1 << 20);
  ASSERT_TRUE(*owner->Admit(D(0), blobs_[0]));
  auto guest = Open(1 << 20);  // the lock is held: a guest
  EXPECT_FALSE(guest->state().owner);
  EXPECT_TRUE(guest->Lookup(D(0), true)->has_value());
  EXPECT_FALSE(*guest->Admit(D(1), blobs_[1]));
  EXPECT_EQ(FileSize(1), 0u) << "a guest writes markers, not chunks";
  EXPECT_EQ(owner->state().chunks, 1u);
}

TEST_F(ChunkCacheTest, StaleEntriesAreDroppedOnRead) {
  auto cache = Open(1 << 20);
  ASSERT_TRUE(*cache->Admit(D(0), blobs_[0]));
  fs::remove(store_->ChunkPath(D(0)));  // gone behind the cache's back
  EXPECT_FALSE(cache->Lookup(D(0), true)->has_value());
  EXPECT_EQ(cache->state().chunks, 0u);
  // A file the state does not know is taken over when it is read.
  ASSERT_TRUE(store_->Insert(D(5), blobs_[5]).has_value());
  EXPECT_TRUE(cache->Lookup(D(5), true)->has_value());
  EXPECT_EQ(cache->state().chunks, 1u);
}

TEST_F(ChunkCacheTest, ConcurrentReadsOfOneMissingChunkFetchOnce) {
  constexpr int kThreads = 8;
  std::latch joined(kThreads - 1);
  auto o = Options(1 << 20);
  o.on_join = [&] { joined.count_down(); };
  auto cache = *ChunkCache::Open(store_.get(), tmp_ / ".cache", o);
  std::atomic<int> fetches{0};
  std::vector<Bytes> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto r = cache->FetchOnce(D(0), [&]() -> Result<Bytes> {
        ++fetches;
        joined.wait();  // hold the fetch until every other reader waits on it
        return blobs_[0];
      });
      got[size_t(t)] = r ? *r : Bytes();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  for (const Bytes& b : got) EXPECT_EQ(b, blobs_[0]);
  EXPECT_EQ(cache->counters().joined, uint64_t(kThreads - 1));
}

// An Env whose chunk writes find the disk full: the next `fail` of them
// (-1: all); `on_full` runs at each.
class FullDiskEnv final : public EnvWrapper {
 public:
  explicit FullDiskEnv(int fail, std::function<void()> on_full = {})
      : EnvWrapper(Env::Default()), fail_(fail), on_full_(std::move(on_full)) {}
  Status WriteFileAtomic(const std::string& p, ByteView d, const WriteOptions& o) override {
    if (!d.empty() && fail_ != 0) {
      if (fail_ > 0) --fail_;
      if (on_full_) on_full_();
      return FailErrno(ENOSPC, "write " + p);
    }
    return target()->WriteFileAtomic(p, d, o);
  }

 private:
  int fail_;
  std::function<void()> on_full_;
};

TEST_F(ChunkCacheTest, AFullDiskEvictsAndRetriesThenGivesUpQuietly) {
  {
    // The disk fills behind the cache's back: the write of chunk 1 meets
    // ENOSPC and from then on the filesystem reports nothing free.
    FullDiskEnv once(0, [this] { free_ = 0; });
    ChunkStore store(&once, tmp_.path(), SyncLevel::kNone);
    auto cache = *ChunkCache::Open(&store, tmp_ / ".cache", Options(1 << 20));
    ASSERT_TRUE(*cache->Admit(D(0), blobs_[0]));
    once = FullDiskEnv(1, [this] { free_ = 0; });
    ASSERT_TRUE(*cache->Admit(D(1), blobs_[1]));  // evicts chunk 0, retries, fits
    EXPECT_EQ(fs::file_size(store.ChunkPath(D(1))), blobs_[1].size());
    EXPECT_EQ(fs::file_size(store.ChunkPath(D(0))), 0u);
    EXPECT_EQ(cache->counters().evictions, 1u);
    EXPECT_EQ(cache->counters().rejected, 0u);
  }
  free_ = 1ull << 40;
  fs::remove(tmp_ / ".cache/lock");
  FullDiskEnv always(-1);
  ChunkStore store(&always, tmp_.path(), SyncLevel::kNone);
  auto cache = *ChunkCache::Open(&store, tmp_ / ".cache", Options(1 << 20));
  auto r = cache->Admit(D(2), blobs_[2]);
  ASSERT_TRUE(r.has_value()) << "a full disk must not be an error: " << r.error().message();
  EXPECT_FALSE(*r);
  EXPECT_EQ(cache->counters().rejected, 1u);
  EXPECT_TRUE(*cache->Known(D(2))) << "still marked as in the bucket";
}

}  // namespace
}  // namespace chunkvault

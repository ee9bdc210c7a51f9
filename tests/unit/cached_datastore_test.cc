// The local chunk cache inside an S3-backed datastore (docs/format.md, "The chunk cache"),
// over the in-memory bucket, counting the requests a real bucket would
// bill: restores read locally, uploads skip what the cache knows, a new
// process finds the cache warm, scans leave the working set alone.
// The same behaviour is checked against Ceph RGW in tests/s3/.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "chunkvault/blob.h"
#include "remote_fixture.h"
#include "backend/forwarding_backend.h"
#include "backend/wrappers.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
constexpr auto kCached = testing::ChunkFileKind::kCached;
constexpr auto kMarker = testing::ChunkFileKind::kMarker;

// Records the keys of GET requests.
class GetRecorder final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Result<Bytes> Get(const std::string& key) override {
    {
      std::lock_guard lock(mu_);
      gets_.push_back(key);
    }
    return inner_->Get(key);
  }
  std::multiset<std::string> TakeChunkGets() {
    std::lock_guard lock(mu_);
    std::multiset<std::string> out;
    for (const std::string& k : gets_)
      if (k.find("/.chunks/") != std::string::npos) out.insert(k);
    gets_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> gets_;
};

class CachedDatastoreTest : public testing::RemoteStoreFixture {
 protected:
  void SetUp() override {
    RemoteStoreFixture::SetUp();
    bucket_ = counter_;
  }

  // Restores the whole snapshot into a fresh directory and checks it.
  void RestoreAndCompare(Datastore& ds, const SnapshotRef& snap) {
    const std::string dst = tmp_ / ("dst" + std::to_string(restores_++));
    auto r = ds.RestoreSnapshot(snap, dst, {}, nullptr);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(testing::CompareTrees(tmp_ / "src", dst + "/root"), std::vector<std::string>{});
    EXPECT_EQ(testing::ReadFile(dst + "/disk.img"), testing::ReadFile(tmp_ / "disk.raw"));
  }

  // The bucket key of a chunk file's path.
  static std::string KeyOf(const std::string& path) {
    const std::string hex = path.substr(path.rfind('/') + 1);
    return "store/.chunks/" + hex.substr(0, 4) + "/" + hex;
  }

  std::shared_ptr<GetRecorder> recorder_ = std::make_shared<GetRecorder>(NewMemoryBackend());
  // Counts what the datastore asks of the bucket (its own counter counts
  // the same).
  std::shared_ptr<CountingBackend> counter_ = std::make_shared<CountingBackend>(recorder_);
  int restores_ = 0;
};

TEST_F(CachedDatastoreTest, ARestoreAfterABackupMakesNoChunkGets) {
  auto ds = Init(tmp_ / "a");
  ASSERT_TRUE(ds.has_value()) << ds.error().message();
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached).size(), summary->new_chunks);
  recorder_->TakeChunkGets();
  RestoreAndCompare(**ds, summary->snapshot);
  EXPECT_EQ(recorder_->TakeChunkGets(), std::multiset<std::string>{});
  CacheReport report = (*ds)->Report();
  EXPECT_GT(report.counters.hits, 0u);
  EXPECT_EQ(report.counters.misses, 0u);
  EXPECT_EQ(report.state.chunks, summary->new_chunks);
}

TEST_F(CachedDatastoreTest, DeletedCachedFilesAreFetchedAgainOnceEach) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  std::vector<std::string> cached = testing::ChunkFilePaths(tmp_ / "a", kCached);
  ASSERT_GE(cached.size(), 6u);
  std::multiset<std::string> expected;
  for (size_t i = 0; i < cached.size(); i += cached.size() / 3) {
    fs::remove(cached[i]);
    expected.insert(KeyOf(cached[i]));
  }
  recorder_->TakeChunkGets();
  RestoreAndCompare(**ds, summary->snapshot);
  EXPECT_EQ(recorder_->TakeChunkGets(), expected);
  // Cached again: a second restore fetches nothing.
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached), cached);
  RestoreAndCompare(**ds, summary->snapshot);
  EXPECT_EQ(recorder_->TakeChunkGets(), std::multiset<std::string>{});
}

TEST_F(CachedDatastoreTest, ANewProcessFindsTheCacheWarmWithoutARescan) {
  std::optional<SnapshotRef> snap;
  {
    auto ds = Init(tmp_ / "a");
    auto summary = Backup(**ds);
    ASSERT_TRUE(summary.has_value());
    snap = summary->snapshot;
  }  // closed: the cache's state is checkpointed
  auto ds = Open(tmp_ / "a");
  auto state = ds->CacheStatus();
  ASSERT_TRUE(state.has_value()) << state.error().message();
  EXPECT_FALSE(state->rescanned);
  EXPECT_EQ(state->chunks, testing::ChunkFilePaths(tmp_ / "a", kCached).size());
  recorder_->TakeChunkGets();
  RestoreAndCompare(*ds, *snap);
  EXPECT_EQ(recorder_->TakeChunkGets(), std::multiset<std::string>{});
  // The totals of both runs were kept.
  ds.reset();
  auto totals = Open(tmp_ / "a")->CacheTotals();
  ASSERT_TRUE(totals.has_value());
  EXPECT_EQ((*totals)["runs"], 2u);
  EXPECT_GT((*totals)["hits"].get<uint64_t>(), 0u);
  EXPECT_GT((*totals)["requests"]["put"].get<uint64_t>(), 0u);
}

TEST_F(CachedDatastoreTest, UploadsSkipChunksTheCacheKnows) {
  auto ds = Init(tmp_ / "a");
  auto first = Backup(**ds);
  ASSERT_TRUE(first.has_value());
  const BackendCounts before = counter_->counts();
  auto second = Backup(**ds);
  ASSERT_TRUE(second.has_value());
  const BackendCounts made = counter_->counts() - before;
  // Only metadata goes up: manifest, indexes, blob, and nothing is asked.
  EXPECT_EQ(second->new_chunks, 0u);
  EXPECT_EQ(made.head, 0u);
  EXPECT_EQ(Keys("store/.chunks/").size(), first->new_chunks);
  EXPECT_LE(made.put, 5u) << "a PUT per chunk would be " << second->chunks;
  EXPECT_EQ((*ds)->Report().counters.uploads_skipped, second->chunks);
}

TEST_F(CachedDatastoreTest, ANoCacheBackupLeavesOnlyMarkersThatStillSkipUploads) {
  ASSERT_TRUE(Init(tmp_ / "a").has_value());
  OpenOptions no_cache;
  no_cache.cache_admit = false;
  auto ds = Open(tmp_ / "a", no_cache);
  auto first = Backup(*ds);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached), std::vector<std::string>{});
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kMarker).size(), first->new_chunks);
  EXPECT_EQ(Keys("store/.chunks/").size(), first->new_chunks);
  const BackendCounts before = counter_->counts();
  auto second = Backup(*ds);
  ASSERT_TRUE(second.has_value());
  EXPECT_LE((counter_->counts() - before).put, 5u);
  // Reads go to the bucket, and still keep nothing.
  recorder_->TakeChunkGets();
  RestoreAndCompare(*ds, first->snapshot);
  EXPECT_EQ(recorder_->TakeChunkGets().size(), first->new_chunks);
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached), std::vector<std::string>{});
}

TEST_F(CachedDatastoreTest, AVerifyWithoutAdmissionLeavesTheWorkingSet) {
  auto ds = Init(tmp_ / "a");
  auto hot = Backup(**ds);  // the working set, cached
  ASSERT_TRUE(hot.has_value());
  ds->reset();
  // A second data set backed up without caching: markers only.
  testing::WriteFile(tmp_ / "src/dir/random.bin", testing::RandomData(1 << 20, 77));
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(300000, 78));
  OpenOptions no_admit;
  no_admit.cache_admit = false;
  auto cold = Backup(*Open(tmp_ / "a", no_admit));
  ASSERT_TRUE(cold.has_value());
  const std::vector<std::string> cached = testing::ChunkFilePaths(tmp_ / "a", kCached);
  // Verify through the cache, without admitting: every snapshot checked,
  // the cached files are the same ones.
  auto reader = Open(tmp_ / "a", no_admit);
  VerifyOptions vo;
  vo.use_cache = true;
  auto report = reader->Verify({}, vo, nullptr);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->snapshots_ok, 2u);
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached), cached);
  EXPECT_EQ(reader->Report().counters.admissions, 0u);
  EXPECT_GT(reader->Report().counters.hits, 0u);
  EXPECT_GT(reader->Report().counters.misses, 0u);
  // The same verify admitting would have changed them.
  reader.reset();
  auto admitting = Open(tmp_ / "a");
  ASSERT_TRUE(admitting->Verify({}, vo, nullptr)->ok());
  EXPECT_GT(testing::ChunkFilePaths(tmp_ / "a", kCached).size(), cached.size());
}

TEST_F(CachedDatastoreTest, AVerifyByDefaultReadsTheBucketAndLeavesTheCache) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  recorder_->TakeChunkGets();
  auto report = (*ds)->Verify({}, {}, nullptr);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(recorder_->TakeChunkGets().size(), summary->new_chunks);
  EXPECT_EQ((*ds)->Report().counters.hits, 0u);
}

TEST_F(CachedDatastoreTest, TheCacheStaysWithinItsLimit) {
  InitOptions o;
  o.cache.max_size = 300 << 10;
  auto ds = Init(tmp_ / "a", o);
  ASSERT_TRUE(ds.has_value());
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  auto bytes = [&] {
    uint64_t sum = 0;
    for (const std::string& f : testing::ChunkFilePaths(tmp_ / "a", kCached)) sum += fs::file_size(f);
    return sum;
  };
  EXPECT_LE(bytes(), o.cache.max_size);
  EXPECT_GT(summary->stored_bytes, 2 * o.cache.max_size) << "the test needs evictions";
  CacheReport report = (*ds)->Report();
  EXPECT_GT(report.counters.evictions, 0u);
  EXPECT_EQ(report.state.bytes, bytes());
  // Every chunk is either cached or a marker: nothing is forgotten.
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached).size() + testing::ChunkFilePaths(tmp_ / "a", kMarker).size(),
            summary->new_chunks);
  // Reads of evicted chunks fetch and cache them within the limit again.
  RestoreAndCompare(**ds, summary->snapshot);
  EXPECT_LE(bytes(), o.cache.max_size);
}

TEST_F(CachedDatastoreTest, AFullCacheDiskFailsNeitherBackupNorRestore) {
  ASSERT_TRUE(Init(tmp_ / "a").has_value());
  OpenOptions full;
  full.cache_free_space = []() -> Result<uint64_t> { return 0; };
  auto ds = Open(tmp_ / "a", full);
  auto summary = Backup(*ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(testing::ChunkFilePaths(tmp_ / "a", kCached), std::vector<std::string>{});
  EXPECT_EQ(ds->Report().counters.rejected, summary->new_chunks);
  RestoreAndCompare(*ds, summary->snapshot);
}

TEST_F(CachedDatastoreTest, ACorruptObjectIsNamedAndNeverCached) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  const std::string victim = testing::ChunkFilePaths(tmp_ / "a", kCached).front();
  const std::string key = KeyOf(victim);
  Bytes blob = *bucket_->Get(key);
  blob[blob.size() / 2] ^= 0x40;
  ASSERT_TRUE(bucket_->Put(key, blob, PutMode::kOverwrite).has_value());
  fs::remove(victim);
  auto r = (*ds)->RestoreSnapshot(summary->snapshot, tmp_ / "dst", {}, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(key), std::string::npos) << r.error().message();
  EXPECT_TRUE(!fs::exists(victim) || fs::file_size(victim) == 0) << "a corrupt chunk was cached";
}

}  // namespace
}  // namespace chunkvault

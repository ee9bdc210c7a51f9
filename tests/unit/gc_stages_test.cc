// The stages of garbage collection, each alone (src/datastore/gc_stages.h):
// what mark touches, marks and misses; what the plan picks and leaves;
// what the sweep removes, re-checks and deletes from the bucket. The whole
// GC is tested in gc_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "chunkvault/chunk_path.h"
#include "chunkvault/datastore.h"
#include "chunkvault/index.h"
#include "datastore/datastore_impl.h"
#include "datastore/gc_stages.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSecond = 1'000'000'000;

Digest D(uint8_t i, uint8_t dir = 0) {
  Digest d{};
  d[0] = dir;
  d[1] = i;
  d[31] = i;
  return d;
}

int64_t AtimeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return int64_t(st.st_atim.tv_sec) * kSecond + st.st_atim.tv_nsec;
}

void SetAtime(const std::string& path, int64_t ns) {
  const struct timespec times[2] = {{time_t(ns / kSecond), long(ns % kSecond)}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

int64_t NowNs() { return Env::Default()->NowNanos(); }

// A snapshot whose image references three chunks: one stored, one only in
// the bucket, one nowhere.
class GcMarkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ds = Datastore::Init(Env::Default(), tmp_ / "store", {});
    ASSERT_TRUE(ds.has_value()) << ds.error().message();
    ds_ = std::move(*ds);
    testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(3 * (64 << 10), 7));
    BackupOptions bo;
    bo.id = "vm";
    auto session = ds_->StartBackup(bo);
    ASSERT_TRUE(session.has_value());
    ASSERT_TRUE((*session)->AddImage("disk.img", tmp_ / "disk.raw", 64 << 10).has_value());
    auto summary = (*session)->Finish();
    ASSERT_TRUE(summary.has_value());
    auto& impl = ImplOf(*ds_);
    auto raw = impl.snapshot_store().ReadFile(summary->snapshot, "disk.img.fidx", 1 << 20);
    ASSERT_TRUE(raw.has_value());
    auto index = FixedIndex::Parse(*raw);
    ASSERT_TRUE(index.has_value());
    ASSERT_EQ(index->digests.size(), 3u);
    stored_ = index->digests[0];
    in_bucket_ = index->digests[1];
    nowhere_ = index->digests[2];
    ChunkStore& chunks = impl.chunk_store();
    ASSERT_TRUE(chunks.Remove(in_bucket_).has_value());
    ASSERT_TRUE(chunks.Remove(nowhere_).has_value());
    SetAtime(chunks.ChunkPath(stored_), NowNs() - 3600 * kSecond);
    listing_.objects.push_back({ChunkFileName{in_bucket_, ""}, 100});
    auto entries = impl.snapshot_store().ListSnapshotsIn(BackupNamespace{}, true);
    ASSERT_TRUE(entries.has_value());
    entries_ = *entries;
  }

  GcMarkInput Input(bool dry_run) {
    auto& impl = ImplOf(*ds_);
    GcMarkInput in;
    in.snapshots = &impl.snapshot_store();
    in.entries = &entries_;
    in.chunks = &impl.chunk_store();
    in.listing = &listing_;
    in.dry_run = dry_run;
    in.damage_of = [](const SnapshotRef&) { return std::string(); };
    return in;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Datastore> ds_;
  std::vector<SnapshotEntry> entries_;
  GcListing listing_;
  Digest stored_{}, in_bucket_{}, nowhere_{};
};

TEST_F(GcMarkTest, TouchesStoredChunksMarksListedOnesAndReportsTheRest) {
  ChunkStore& chunks = ImplOf(*ds_).chunk_store();
  const int64_t before = NowNs() - kSecond;
  GcReport report;
  auto referenced = GcMark(Input(/*dry_run=*/false), report);
  ASSERT_TRUE(referenced.has_value()) << referenced.error().message();
  EXPECT_EQ(referenced->size(), 3u);
  EXPECT_EQ(report.index_files, 1u);
  EXPECT_EQ(report.referenced, 3u);
  EXPECT_GE(AtimeOf(chunks.ChunkPath(stored_)), before);
  EXPECT_EQ(report.markers_written, 1u);
  EXPECT_EQ(fs::file_size(chunks.ChunkPath(in_bucket_)), 0u) << "a marker";
  EXPECT_EQ(report.missing, std::vector<std::string>{ToHex(nowhere_)});
  EXPECT_FALSE(fs::exists(chunks.ChunkPath(nowhere_)));
}

TEST_F(GcMarkTest, ADryRunFindsTheSameAndChangesNothing) {
  ChunkStore& chunks = ImplOf(*ds_).chunk_store();
  const int64_t old = AtimeOf(chunks.ChunkPath(stored_));
  GcReport report;
  auto referenced = GcMark(Input(/*dry_run=*/true), report);
  ASSERT_TRUE(referenced.has_value());
  EXPECT_EQ(referenced->size(), 3u);
  EXPECT_EQ(report.missing, std::vector<std::string>{ToHex(nowhere_)});
  EXPECT_EQ(AtimeOf(chunks.ChunkPath(stored_)), old);
  EXPECT_FALSE(fs::exists(chunks.ChunkPath(in_bucket_)));
  EXPECT_EQ(report.markers_written, 0u);
}

TEST_F(GcMarkTest, AnUnreadableIndexStopsItAndADamagedSnapshotIsNamed) {
  auto in = Input(false);
  in.damage_of = [](const SnapshotRef&) { return std::string("broken"); };
  GcReport report;
  ASSERT_TRUE(GcMark(in, report).has_value());
  ASSERT_EQ(report.damaged.size(), 1u);
  EXPECT_NE(report.damaged[0].find("broken"), std::string::npos);
  auto& ss = ImplOf(*ds_).snapshot_store();
  testing::WriteFile(ss.FilePath(entries_[0].ref, "disk.img.fidx"), "not an index");
  GcReport again;
  auto r = GcMark(in, again);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("disk.img.fidx"), std::string::npos) << r.error().message();
}

// A chunk store with one chunk of each kind the plan tells apart.
class GcPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ChunkStore::Create(Env::Default(), tmp_.path()).has_value());
    cutoff_ = NowNs() - 600 * kSecond;
    const int64_t old = cutoff_ - 600 * kSecond;
    Put(kReferenced, old);
    Put(kOldUnused, old);
    Put(kRecentUnused, NowNs());
    Put(kOldBad, old);
    ASSERT_TRUE(chunks_.MarkBad(D(kOldBad)).has_value());
    Put(kRecentBad, NowNs());
    ASSERT_TRUE(chunks_.MarkBad(D(kRecentBad)).has_value());
    stale_tmp_ = chunks_.ChunkPath(D(9)) + ".tmp_abcdef";
    testing::WriteFile(stale_tmp_, "x");
    const struct timespec old_times[2] = {{time_t(old / kSecond), 0}, {time_t(old / kSecond), 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, stale_tmp_.c_str(), old_times, 0), 0);
    testing::WriteFile(chunks_.ChunkPath(D(10)) + ".tmp_ghijkl", "a writer's, running");
    referenced_ = {D(kReferenced)};
    // The bucket: the referenced chunk, an unused one with no local trace.
    listing_.objects = {{ChunkFileName{D(kReferenced), ""}, 10},
                        {ChunkFileName{D(kBucketOnly), ""}, 20}};
  }

  void Put(uint8_t i, int64_t atime) {
    ASSERT_TRUE(chunks_.Insert(D(i), AsBytes("blob " + std::to_string(i))).has_value());
    SetAtime(chunks_.ChunkPath(D(i)), atime);
  }

  GcPlanInput Input() {
    GcPlanInput in;
    in.env = Env::Default();
    in.chunks = &chunks_;
    in.listing = &listing_;
    in.referenced = &referenced_;
    in.cutoff_ns = cutoff_;
    return in;
  }

  static constexpr uint8_t kReferenced = 1, kOldUnused = 2, kRecentUnused = 3, kOldBad = 4,
                           kRecentBad = 5, kBucketOnly = 6;
  testing::TempDir tmp_;
  ChunkStore chunks_{Env::Default(), tmp_.path(), SyncLevel::kNone};
  int64_t cutoff_ = 0;
  std::unordered_set<Digest, DigestHash> referenced_;
  GcListing listing_;
  std::string stale_tmp_;
};

TEST_F(GcPlanTest, PicksOnlyWhatIsUnusedAndOlderThanTheCutoff) {
  GcReport report;
  auto plan = GcPlanSweep(Input(), report);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  std::vector<std::pair<uint8_t, bool>> picked;  // (chunk, bad copy)
  for (const GcCandidate& c : plan->candidates) picked.emplace_back(c.digest[1], !c.bad.empty());
  EXPECT_EQ(picked, (std::vector<std::pair<uint8_t, bool>>{
                        {kOldUnused, false}, {kOldBad, true}, {kBucketOnly, false}}));
  auto only = std::find_if(plan->candidates.begin(), plan->candidates.end(),
                           [](const GcCandidate& c) { return c.digest[1] == kBucketOnly; });
  EXPECT_TRUE(only->object);
  EXPECT_EQ(only->bytes, 20u);
  EXPECT_EQ(report.kept, 1u);
  EXPECT_EQ(report.pending, 1u);
  EXPECT_EQ(report.still_bad, 1u);
  EXPECT_EQ(plan->temporaries, std::vector<std::string>{stale_tmp_});
  EXPECT_EQ(report.removed, 0u) << "the plan removes nothing";
  GcCountPlanned(*plan, report);
  EXPECT_EQ(report.removed, 2u);
  EXPECT_EQ(report.removed_bad, 1u);
  EXPECT_EQ(report.removed_objects, 1u);
  EXPECT_EQ(report.removed_temporary, 1u);
  EXPECT_TRUE(fs::exists(chunks_.ChunkPath(D(kOldUnused))));
  EXPECT_TRUE(fs::exists(stale_tmp_));
}

TEST_F(GcPlanTest, SweepRemovesThePlanButWhatWasTouchedSince) {
  GcReport report;
  std::shared_ptr<Backend> bucket = NewMemoryBackend();
  for (uint8_t i : {kReferenced, kBucketOnly})
    ASSERT_TRUE(bucket->Put("s/" + ChunkRelPath(D(i)), AsBytes("b"), PutMode::kOverwrite));
  auto plan = GcPlanSweep(Input(), report);
  ASSERT_TRUE(plan.has_value());
  // A backup uses the old unused chunk between the plan and the sweep.
  Put(kOldUnused, NowNs());
  GcSweepInput in;
  in.env = Env::Default();
  in.chunks = &chunks_;
  in.backend = bucket.get();
  in.key_prefix = "s/";
  in.dirs_per_batch = 1;
  ASSERT_TRUE(GcSweep(*plan, in, report).has_value());
  EXPECT_TRUE(fs::exists(chunks_.ChunkPath(D(kOldUnused)))) << "touched since the plan";
  EXPECT_EQ(report.pending, 2u);
  EXPECT_FALSE(fs::exists(chunks_.ChunkPath(D(kOldBad)) + BadSuffix(0)));
  EXPECT_TRUE(fs::exists(chunks_.ChunkPath(D(kRecentBad)) + BadSuffix(0)));
  EXPECT_FALSE(fs::exists(stale_tmp_));
  EXPECT_TRUE(fs::exists(chunks_.ChunkPath(D(kReferenced))));
  auto gone = bucket->Head("s/" + ChunkRelPath(D(kBucketOnly)));
  ASSERT_TRUE(gone.has_value());
  EXPECT_FALSE(gone->has_value()) << "the unused object is deleted";
  auto kept = bucket->Head("s/" + ChunkRelPath(D(kReferenced)));
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->has_value());
  EXPECT_EQ(report.removed, 1u);
  EXPECT_EQ(report.removed_bad, 1u);
  EXPECT_EQ(report.removed_temporary, 1u);
}

}  // namespace
}  // namespace chunkvault

// Garbage collection (docs/architecture.md, "How a request flows") on a local store and on an
// S3-backed one over the in-memory bucket: exactly the unused chunks go, from disk, cache and
// bucket; a dry run changes nothing; running backups move the cutoff back; an interrupted run is
// finished by the next.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <thread>

#include "archive/tar.h"
#include "datastore/writers.h"
#include "remote_fixture.h"
#include "backend/forwarding_backend.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;

// Fails DeleteMany while `fail` is set.
class FlakyDeletes final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Status DeleteMany(const std::vector<std::string>& keys) override {
    if (fail) return Fail(ErrorCode::kNetwork, "injected: DeleteObjects failed");
    return inner_->DeleteMany(keys);
  }
  bool fail = false;
};

class GcTest : public testing::RemoteStoreFixture {
 protected:
  void SetUp() override {
    RemoteStoreFixture::SetUp();
    fs::create_directories(tmp_ / "other");
    testing::WriteFile(tmp_ / "other/data.bin", testing::RandomData(600000, 42));
    bucket_ = flaky_;
  }

  // A local store (remote = false) or one over the memory bucket.
  std::unique_ptr<Datastore> Make(const std::string& dir, bool remote) {
    if (remote) {
      auto ds = Init(dir);
      EXPECT_TRUE(ds.has_value()) << ds.error().message();
      return ds ? std::move(*ds) : nullptr;
    }
    auto ds = Datastore::Init(Env::Default(), dir, {});
    EXPECT_TRUE(ds.has_value()) << ds.error().message();
    return ds ? std::move(*ds) : nullptr;
  }

  SnapshotRef BackupTree(Datastore& ds, const std::string& id, const std::string& dir) {
    BackupOptions bo;
    bo.id = id;
    auto session = ds.StartBackup(bo);
    EXPECT_TRUE(session.has_value()) << session.error().message();
    EXPECT_TRUE((*session)->AddTar("root.tar", dir, 64 << 10, nullptr, nullptr).has_value());
    auto summary = (*session)->Finish();
    EXPECT_TRUE(summary.has_value()) << summary.error().message();
    return summary->snapshot;
  }

  std::set<std::string> BucketChunks(const std::string& prefix) {
    return testing::Basenames(Keys(prefix + "/.chunks/"));
  }


  // The chunks of a backup of `dir` alone, from a store of their own.
  std::set<std::string> ChunksOf(const std::string& dir) {
    auto alone = Datastore::Init(Env::Default(), tmp_ / ("alone" + std::to_string(n_++)), {});
    BackupTree(**alone, "x", dir);
    return testing::ChunkFileNames((*alone)->path());
  }

  std::shared_ptr<FlakyDeletes> flaky_ = std::make_shared<FlakyDeletes>(NewMemoryBackend());
  int n_ = 0;
};

class GcOnBothBackends : public GcTest, public ::testing::WithParamInterface<bool> {};

TEST_P(GcOnBothBackends, RemovesExactlyTheUnusedChunksAndADryRunNothing) {
  const bool remote = GetParam();
  auto ds = Make(tmp_ / "a", remote);
  SnapshotRef a = BackupTree(*ds, "a", tmp_ / "src");
  SnapshotRef b = BackupTree(*ds, "b", tmp_ / "other");
  const std::set<std::string> all = testing::ChunkFileNames(tmp_ / "a");
  const std::set<std::string> used = ChunksOf(tmp_ / "other");
  ASSERT_TRUE(ds->Forget(a).has_value());
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 2 * 3600));
  std::set<std::string> unused;
  std::set_difference(all.begin(), all.end(), used.begin(), used.end(),
                      std::inserter(unused, unused.end()));
  ASSERT_GT(unused.size(), 5u);

  GcOptions plan;
  plan.dry_run = true;
  plan.atime_cutoff_minutes = 60;
  auto dry = ds->GarbageCollect(plan, nullptr);
  ASSERT_TRUE(dry.has_value()) << dry.error().message();
  EXPECT_EQ(dry->removed, unused.size());
  EXPECT_EQ(dry->kept, used.size());
  EXPECT_EQ(testing::ChunkFileNames(tmp_ / "a"), all) << "a dry run removes nothing";

  GcOptions run;
  run.atime_cutoff_minutes = 60;
  auto done = ds->GarbageCollect(run, nullptr);
  ASSERT_TRUE(done.has_value()) << done.error().message();
  EXPECT_EQ(done->removed, unused.size());
  EXPECT_EQ(done->referenced, used.size());
  EXPECT_EQ(testing::ChunkFileNames(tmp_ / "a"), used);
  if (remote) {
    EXPECT_EQ(BucketChunks("store"), used);
    EXPECT_EQ(done->removed_objects, unused.size());
    // The cache forgot them too: what it counts is what is on disk.
    auto state = ds->CacheStatus();
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->chunks, used.size());
  }
  auto verify = ds->Verify({}, {}, nullptr);
  ASSERT_TRUE(verify.has_value());
  EXPECT_TRUE(verify->ok());
  EXPECT_EQ(verify->snapshots_ok, 1u);
  // Nothing left to do.
  EXPECT_EQ(ds->GarbageCollect(run, nullptr)->removed, 0u);
  (void)b;
}

// The copies verify moves aside (<digest>.<n>.bad) are referenced by
// nothing; as in PBS they go once their atime is older than the cutoff,
// locally and in the bucket, and are counted apart from chunks.
TEST_P(GcOnBothBackends, BadCopiesGoOnceOlderThanTheCutoff) {
  const bool remote = GetParam();
  auto ds = Make(tmp_ / "a", remote);
  SnapshotRef a = BackupTree(*ds, "a", tmp_ / "src");
  // Damage one chunk where verify reads it, and let verify move it aside.
  const std::string name = *testing::ChunkFileNames(tmp_ / "a").begin();
  const fs::path local = fs::path(tmp_ / "a") / ".chunks" / name.substr(0, 4) / name;
  const std::string key = "store/.chunks/" + name.substr(0, 4) + "/" + name;
  if (remote) {
    ASSERT_NO_FATAL_FAILURE(DamageObject(key));
  } else {
    std::string blob = testing::ReadFile(local);
    blob.back() ^= 1;
    testing::WriteFile(local, blob);
  }
  auto v = ds->Verify({}, {}, nullptr);
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->bad_chunks.size(), 1u);
  ASSERT_TRUE(fs::exists(local.string() + ".0.bad"));
  if (remote) {
    ASSERT_TRUE(bucket_->Head(key + ".0.bad")->has_value());
  }
  BackupTree(*ds, "a", tmp_ / "src");  // stores a good copy again
  ASSERT_TRUE(ds->Forget(a).has_value());

  GcOptions o;
  o.atime_cutoff_minutes = 60;
  auto r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->still_bad, 1u) << "used an hour ago at most: kept";
  EXPECT_EQ(r->removed_bad, 0u);
  EXPECT_TRUE(fs::exists(local.string() + ".0.bad"));
  if (remote) {
    EXPECT_TRUE(bucket_->Head(key + ".0.bad")->has_value());
  }

  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 2 * 3600));
  o.dry_run = true;
  r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->removed_bad, 1u);
  EXPECT_TRUE(fs::exists(local.string() + ".0.bad")) << "a dry run removes nothing";
  o.dry_run = false;
  r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->removed_bad, 1u);
  EXPECT_EQ(r->still_bad, 0u);
  EXPECT_FALSE(fs::exists(local.string() + ".0.bad"));
  EXPECT_TRUE(fs::exists(local)) << "the good copy is in use";
  if (remote) {
    EXPECT_EQ(r->removed_objects, r->removed + 1);
    EXPECT_FALSE(bucket_->Head(key + ".0.bad")->has_value());
    EXPECT_TRUE(bucket_->Head(key)->has_value());
  }
  auto again = ds->Verify({}, {}, nullptr);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->ok());
}

// A bad copy in the bucket with no local trace counts as old, like a chunk
// object without one.
TEST_F(GcTest, ABadObjectWithoutALocalCopyGoes) {
  auto ds = Make(tmp_ / "a", true);
  BackupTree(*ds, "a", tmp_ / "src");
  const std::string key = *Keys("store/.chunks/").begin();
  ASSERT_TRUE(bucket_->Put(key + ".3.bad", Bytes{1, 2, 3}, PutMode::kOverwrite));
  ASSERT_TRUE(bucket_->Put(key + ".tmp", Bytes{1}, PutMode::kOverwrite));  // not ours: stays
  GcOptions o;
  o.atime_cutoff_minutes = 60;
  auto r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->removed_bad, 1u);
  EXPECT_EQ(r->removed, 0u);
  EXPECT_FALSE(bucket_->Head(key + ".3.bad")->has_value());
  EXPECT_TRUE(bucket_->Head(key + ".tmp")->has_value());
  EXPECT_TRUE(bucket_->Head(key)->has_value());
}

INSTANTIATE_TEST_SUITE_P(Local, GcOnBothBackends, ::testing::Values(false));
INSTANTIATE_TEST_SUITE_P(S3, GcOnBothBackends, ::testing::Values(true));

// Starts a garbage collection when the backup reaches its n-th entry.
class StartGcAt final : public TarObserver {
 public:
  StartGcAt(int n, std::function<void()> start) : n_(n), start_(std::move(start)) {}
  void OnEntry(const std::string&, uint64_t) override {
    if (seen_++ == n_) start_();
  }

 private:
  const int n_;
  int seen_ = 0;
  std::function<void()> start_;
};

// Runs `fn` (once) when the GC has swept its first batch.
class RunOnFirstSweep final : public GcObserver {
 public:
  explicit RunOnFirstSweep(std::function<void()> fn) : fn_(std::move(fn)) {}
  void OnSweep(uint64_t, uint64_t) override {
    if (fn_) std::exchange(fn_, nullptr)();
  }

 private:
  std::function<void()> fn_;
};

// One round of a backup beside a GC that takes every chunk not in use:
// on even rounds the GC starts when the backup reaches entry `start_at`
// (the backup's start moves the cutoff back); on odd ones the backup runs
// after the GC planned and swept its first directory (it must find each
// chunk either kept, touched before the GC re-checks it, or gone, and
// upload it again). Then every snapshot must verify.
void BackupBesideGc(Datastore& ds, int round, int start_at,
                    const std::function<void(TarObserver*)>& backup) {
  GcOptions o;
  o.atime_cutoff_minutes = 0;
  Result<GcReport> gc = Fail(ErrorCode::kInternal, "not run");
  if (round % 2 == 0) {
    std::thread collector;
    StartGcAt observer(start_at, [&] {
      collector = std::thread([&] { gc = ds.GarbageCollect(o, nullptr); });
    });
    backup(&observer);
    if (!collector.joinable()) collector = std::thread([&] { gc = ds.GarbageCollect(o, nullptr); });
    collector.join();
  } else {
    RunOnFirstSweep observer([&] { backup(nullptr); });
    o.dirs_per_batch = 1;
    gc = ds.GarbageCollect(o, &observer);
  }
  ASSERT_TRUE(gc.has_value()) << gc.error().message();
  auto v = ds.Verify({}, {}, nullptr);
  ASSERT_TRUE(v.has_value());
  ASSERT_GE(v->snapshots_ok, 1u);
  ASSERT_TRUE(v->ok()) << "round " << round << ": "
                       << (v->bad_chunks.empty() ? "" : v->bad_chunks[0].error);
}

TEST_P(GcOnBothBackends, BackupsRunningBesideGcLoseNothing) {
  const bool remote = GetParam();
  auto ds = Make(tmp_ / "a", remote);
  for (int round = 0; round < 20; ++round) {
    // Some data changes, most is reused; every snapshot is forgotten and
    // every chunk looks long unused: the GC would take each chunk the
    // backup reuses if it did not see the backup.
    testing::WriteFile(tmp_ / "src/dir/changing.bin", testing::RandomData(200000, 1000 + round));
    ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 2 * 3600));
    auto all = ds->ListSnapshots({}, true);
    ASSERT_TRUE(all.has_value());
    for (const SnapshotInfo& s : *all) ASSERT_TRUE(ds->Forget(s.ref).has_value());
    auto backup = [&](TarObserver* observer) {
      BackupOptions bo;
      bo.id = "box";
      auto session = ds->StartBackup(bo);
      ASSERT_TRUE(session.has_value());
      ASSERT_TRUE((*session)->AddTar("root.tar", tmp_ / "src", 64 << 10, observer, nullptr));
      ASSERT_TRUE((*session)->Finish().has_value());
    };
    BackupBesideGc(*ds, round, round / 2, backup);
    if (HasFatalFailure()) return;
  }
}

// Metadata change detection reuses the previous snapshot's payload
// chunks by digest, never reading them. With the GC running beside it,
// every chunk the new snapshot names must still be there when it is
// done: the previous snapshot is kept (then the GC marks its chunks), or
// forgotten (then only the backup's touch of what it reuses keeps them).
TEST_P(GcOnBothBackends, ReusingBackupsBesideGcLoseNothing) {
  const bool remote = GetParam();
  auto ds = Make(tmp_ / "a", remote);
  fs::create_directories(tmp_ / "src/many");
  for (int i = 0; i < 60; ++i)
    testing::WriteFile(tmp_ / "src/many/f" + std::to_string(i),
                       testing::RandomData(20000 + 1000 * i, 300 + i));
  uint64_t reused = 0;
  for (int round = 0; round < 20; ++round) {
    testing::WriteFile(tmp_ / "src/many/f" + std::to_string(round * 3),
                       testing::RandomData(30000, 2000 + round));
    ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 2 * 3600));
    auto all = ds->ListSnapshots({}, true);
    ASSERT_TRUE(all.has_value());
    // All but the newest, or every fourth round all of them.
    for (size_t i = 0; i < all->size(); ++i) {
      if (i + 1 < all->size() || round % 4 == 1) {
        ASSERT_TRUE(ds->Forget((*all)[i].ref));
      }
    }
    auto backup = [&](TarObserver* observer) {
      BackupOptions bo;
      bo.id = "box";
      auto session = ds->StartBackup(bo);
      ASSERT_TRUE(session.has_value());
      TarStats stats;
      ASSERT_TRUE((*session)->AddPxar("root.pxar", tmp_ / "src", 64 << 10, PxarOptions{},
                                      observer, &stats));
      ASSERT_TRUE((*session)->Finish().has_value());
      reused += stats.reuse.files_reused;
    };
    BackupBesideGc(*ds, round, round / 2 * 3, backup);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(reused, 0u);  // the test tested reuse
}

// The snapshot a backup reuses chunks of cannot be forgotten (or pruned)
// until the backup is done: its chunks stay marked by every GC meanwhile.
TEST_F(GcTest, TheSnapshotBeingReusedCannotBeForgotten) {
  auto ds = Make(tmp_ / "a", false);
  auto backup = [&](TarObserver* observer) -> TarStats {
    BackupOptions bo;
    bo.id = "box";
    auto session = ds->StartBackup(bo);
    EXPECT_TRUE(session.has_value());
    TarStats stats;
    EXPECT_TRUE((*session)->AddPxar("root.pxar", tmp_ / "src", 64 << 10, PxarOptions{}, observer,
                                    &stats));
    EXPECT_TRUE((*session)->Finish().has_value());
    return stats;
  };
  backup(nullptr);
  auto all = ds->ListSnapshots({}, true);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 1u);
  const SnapshotRef previous = (*all)[0].ref;
  Status forgotten;
  StartGcAt observer(0, [&] { forgotten = ds->Forget(previous); });
  const TarStats stats = backup(&observer);
  EXPECT_GT(stats.reuse.files_reused, 0u);
  ASSERT_FALSE(forgotten.has_value());
  EXPECT_EQ(forgotten.error().code(), ErrorCode::kBusy) << forgotten.error().message();
  EXPECT_TRUE(ds->Forget(previous).has_value());  // once it is done
}

TEST_F(GcTest, RecentlyUnusedChunksArePending) {
  auto ds = Make(tmp_ / "a", true);
  SnapshotRef a = BackupTree(*ds, "a", tmp_ / "src");
  ASSERT_TRUE(ds->Forget(a).has_value());
  auto r = ds->GarbageCollect({}, nullptr);  // the default cutoff: 24 h 5 min
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(r->pending, testing::ChunkFileNames(tmp_ / "a").size());
  EXPECT_EQ(BucketChunks("store").size(), r->pending);
}

TEST_F(GcTest, ARunningBackupMovesTheCutoffBack) {
  auto ds = Make(tmp_ / "a", true);
  SnapshotRef a = BackupTree(*ds, "a", tmp_ / "src");
  ASSERT_TRUE(ds->Forget(a).has_value());
  // Unused for an hour; a backup running for three might still use them.
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 3600));
  auto writer =
      RegisterWriter(Env::Default(), tmp_ / "a", (::time(nullptr) - 3 * 3600) * 1'000'000'000);
  ASSERT_TRUE(writer.has_value());
  GcOptions o;
  o.atime_cutoff_minutes = 0;
  auto r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->removed, 0u);
  EXPECT_LE(r->cutoff, ::time(nullptr) - 3 * 3600);
  writer->reset();  // the backup ends
  r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_GT(r->removed, 0u);
  EXPECT_EQ(testing::ChunkFileNames(tmp_ / "a"), std::set<std::string>{});
  EXPECT_EQ(BucketChunks("store"), std::set<std::string>{});
}

TEST_F(GcTest, AnInterruptedRunIsFinishedByTheNext) {
  auto ds = Make(tmp_ / "a", true);
  SnapshotRef a = BackupTree(*ds, "a", tmp_ / "src");
  SnapshotRef b = BackupTree(*ds, "b", tmp_ / "other");
  ASSERT_TRUE(ds->Forget(a).has_value());
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "a", 2 * 3600));
  GcOptions o;
  o.atime_cutoff_minutes = 60;
  flaky_->fail = true;
  auto r = ds->GarbageCollect(o, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("DeleteObjects failed"), std::string::npos);
  // Local copies went first; the objects are still there, and nothing a
  // snapshot uses is missing.
  const std::set<std::string> used = ChunksOf(tmp_ / "other");
  EXPECT_EQ(testing::ChunkFileNames(tmp_ / "a"), used);
  EXPECT_GT(BucketChunks("store").size(), used.size());
  flaky_->fail = false;
  r = ds->GarbageCollect(o, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(BucketChunks("store"), used);
  EXPECT_TRUE(ds->Verify({b}, {}, nullptr)->ok());
}

TEST_F(GcTest, OneAtATime) {
  auto ds = Make(tmp_ / "a", false);
  auto held = Env::Default()->Lock(tmp_ / "a/.gc-lock", LockMode::kExclusive, false);
  ASSERT_TRUE(held.has_value());
  auto r = ds->GarbageCollect({}, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kBusy);
  EXPECT_NE(r.error().message().find("another garbage collection"), std::string::npos);
}

TEST(Writers, ADeadWritersEntryIsIgnoredAndRemoved) {
  testing::TempDir tmp;
  {
    auto w = RegisterWriter(Env::Default(), tmp.path(), 1000);
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(*OldestWriterStart(Env::Default(), tmp.path()), std::optional<int64_t>(1000));
  }
  EXPECT_EQ(*OldestWriterStart(Env::Default(), tmp.path()), std::nullopt);
  // A writer killed before removing its file: nobody holds its lock.
  testing::WriteFile(tmp / ".writers/900-1-0", "");
  auto w = RegisterWriter(Env::Default(), tmp.path(), 2000);
  EXPECT_EQ(*OldestWriterStart(Env::Default(), tmp.path()), std::optional<int64_t>(2000));
  EXPECT_FALSE(fs::exists(tmp / ".writers/900-1-0"));
}

}  // namespace
}  // namespace chunkvault

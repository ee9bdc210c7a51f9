// Datastore tests through the library: integrity checks of every snapshot
// file, failures injected at every filesystem operation of a backup, the
// clock, concurrency, and PBS's chunk insert rules.
#include "chunkvault/datastore.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "archive/tar.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "datastore/datastore_impl.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Forwards to the POSIX Env, with a settable clock, and fails the N-th
// operation that changes the filesystem (counting from 1; 0: never).
class FaultEnv final : public EnvWrapper {
 public:
  explicit FaultEnv(int fail_at = 0) : EnvWrapper(Env::Default()), fail_at_(fail_at) {}

  std::atomic<int64_t> now{0};  // 0: the real clock

  // Chunk directories this Env wrote into.
  std::set<std::string> chunk_dirs() {
    std::lock_guard lock(mu_);
    return chunk_dirs_;
  }

  int64_t NowUnix() override { return now ? now.load() : target()->NowUnix(); }
  int64_t NowNanos() override { return NowUnix() * 1'000'000'000; }
  // The settable clock gets there at once.
  void WaitUntil(int64_t t) override {
    if (now == 0) return target()->WaitUntil(t);
    for (int64_t cur = now; cur < t && !now.compare_exchange_weak(cur, t);) {
    }
  }
  Status WriteFileAtomic(const std::string& p, ByteView d, const WriteOptions& o) override {
    if (p.find("/.chunks/") != std::string::npos) {
      std::lock_guard lock(mu_);
      chunk_dirs_.insert(p.substr(0, p.rfind('/')));
    }
    CV_RETURN_IF_ERROR(Tick("write " + p));
    return target()->WriteFileAtomic(p, d, o);
  }
  Result<bool> WriteFileIfAbsent(const std::string& p, ByteView d, const WriteOptions& o) override {
    CV_RETURN_IF_ERROR(Tick("write " + p));
    return target()->WriteFileIfAbsent(p, d, o);
  }
  Status CreateDir(const std::string& p, unsigned m) override {
    CV_RETURN_IF_ERROR(Tick("mkdir " + p));
    return target()->CreateDir(p, m);
  }
  Status CreateDirs(const std::string& p, unsigned m) override {
    CV_RETURN_IF_ERROR(Tick("mkdir -p " + p));
    return target()->CreateDirs(p, m);
  }
  Status Rename(const std::string& a, const std::string& b) override {
    CV_RETURN_IF_ERROR(Tick("rename " + a));
    return target()->Rename(a, b);
  }
  Status RenameNoReplace(const std::string& a, const std::string& b) override {
    CV_RETURN_IF_ERROR(Tick("rename " + a));
    return target()->RenameNoReplace(a, b);
  }
  Status RemoveFile(const std::string& p) override {
    CV_RETURN_IF_ERROR(Tick("remove " + p));
    return target()->RemoveFile(p);
  }
  Status TouchAtime(const std::string& p) override {
    CV_RETURN_IF_ERROR(Tick("touch " + p));
    return target()->TouchAtime(p);
  }
  Status SyncDir(const std::string& p) override {
    CV_RETURN_IF_ERROR(Tick("fsync " + p));
    return target()->SyncDir(p);
  }
  Status SyncFilesystem(const std::string& p) override {
    CV_RETURN_IF_ERROR(Tick("syncfs " + p));
    return target()->SyncFilesystem(p);
  }

 private:
  Status Tick(const std::string& what) {
    if (++count_ == fail_at_) return Fail(ErrorCode::kIo, "injected fault at " + what);
    return {};
  }
  const int fail_at_;
  std::atomic<int> count_{0};
  std::mutex mu_;
  std::set<std::string> chunk_dirs_;
};

class DatastoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = tmp_ / "store";
    auto ds = Datastore::Init(Env::Default(), store_, {});
    ASSERT_TRUE(ds.has_value()) << ds.error().message();
    testing::MakeSampleTree(tmp_ / "src");
    testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(300000, 4));
  }

  std::unique_ptr<Datastore> Open(Env* env = Env::Default(), size_t jobs = 2) {
    OpenOptions o;
    o.jobs = jobs;
    auto ds = Datastore::Open(env, store_, o);
    EXPECT_TRUE(ds.has_value()) << ds.error().message();
    return std::move(*ds);
  }

  // A backup of the sample tree, an image and a blob.
  Result<BackupSummary> FullBackup(Datastore& ds, const std::string& id = "box") {
    BackupOptions bo;
    bo.id = id;
    CV_ASSIGN_OR_RETURN(auto session, ds.StartBackup(bo));
    CV_RETURN_IF_ERROR(session->AddTar("root.tar", tmp_ / "src", 64 << 10, nullptr, nullptr));
    CV_RETURN_IF_ERROR(session->AddImage("disk.img", tmp_ / "disk.raw", 64 << 10));
    CV_RETURN_IF_ERROR(session->AddBlob("config.blob", AsBytes("key = value\n")));
    return session->Finish();
  }

  TempDir tmp_;
  std::string store_;
};

// PBS's index checksum leaves the header's uuid and ctime unprotected; the
// whole-file digest in the manifest closes that gap. Flipping any byte of
// any file of a snapshot must give an error that names the file.
TEST_F(DatastoreTest, EveryFlippedByteOfASnapshotFileIsDetected) {
  auto ds = Open();
  auto summary = FullBackup(*ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  const SnapshotRef snap = summary->snapshot;
  auto manifest = ImplOf(*ds).snapshot_store().ReadManifest(snap);
  ASSERT_TRUE(manifest.has_value());
  for (const char* name : {"root.tar.didx", "disk.img.fidx", "config.blob"}) {
    const std::string path = ImplOf(*ds).snapshot_store().FilePath(snap, name);
    const std::string original = testing::ReadFile(path);
    ASSERT_TRUE(ImplOf(*ds).ReadCheckedFile(snap, *manifest, name).has_value());
    for (size_t i = 0; i < original.size(); ++i) {
      std::string bad = original;
      bad[i] ^= 0x10;
      testing::WriteFile(path, bad);
      auto r = ImplOf(*ds).ReadCheckedFile(snap, *manifest, name);
      ASSERT_FALSE(r.has_value()) << name << ": flip at " << i << " went unnoticed";
      EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
      EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
    }
    testing::WriteFile(path, original);
  }
  // The manifest is a blob: its CRC covers it.
  const std::string mpath = ImplOf(*ds).snapshot_store().FilePath(snap, kManifestBlobName);
  const std::string original = testing::ReadFile(mpath);
  for (size_t i = 0; i < original.size(); ++i) {
    std::string bad = original;
    bad[i] ^= 0x10;
    testing::WriteFile(mpath, bad);
    auto r = ImplOf(*ds).snapshot_store().ReadManifest(snap);
    ASSERT_FALSE(r.has_value()) << "manifest flip at " << i << " went unnoticed";
    EXPECT_NE(r.error().message().find(mpath), std::string::npos) << r.error().message();
  }
  testing::WriteFile(mpath, original);
}

// A backup that fails at any filesystem operation reports the error, leaves
// no snapshot behind and no damaged file; the store stays usable.
TEST_F(DatastoreTest, AFailureAtAnyOperationLeavesTheStoreConsistent) {
  int n = 1;
  for (;; ++n) {
    FaultEnv env(n);
    auto ds = Open(&env);
    auto r = FullBackup(*ds);
    if (r.has_value()) break;  // n is past the backup's last operation
    EXPECT_NE(r.error().message().find("injected fault"), std::string::npos) << r.error().message();
    ASSERT_EQ(testing::IncompleteSnapshots(store_), std::vector<std::string>{}) << "at operation " << n;
    ASSERT_EQ(testing::CheckStoreFiles(store_, env.chunk_dirs()), std::vector<std::string>{})
        << "at operation " << n;
    ASSERT_LT(n, 10000);
  }
  EXPECT_EQ(testing::CheckStoreFiles(store_), std::vector<std::string>{});
  EXPECT_GT(n, 20) << "the backup should touch the filesystem many times";
  auto ds = Open();
  auto report = ds->Verify({}, {}, nullptr);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->snapshots_ok, 1u);
}

// Defect: backups of one group in the same second were stamped up to 5 s
// in the future. A clash waits for the next second on the clock instead.
TEST_F(DatastoreTest, SnapshotTimesComeFromTheClockAndAClashWaitsForTheNextSecond) {
  FaultEnv env;
  env.now = 1700000000;
  auto ds = Open(&env);
  auto a = FullBackup(*ds);
  EXPECT_EQ(env.now, 1700000000);
  auto b = FullBackup(*ds);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->snapshot.time, 1700000000);
  EXPECT_EQ(b->snapshot.time, 1700000001);
  EXPECT_EQ(env.now, 1700000001);  // the clock got there: not a time in the future
  EXPECT_EQ(a->snapshot.ToString(), "host/box/2023-11-14T22:13:20Z");
  // An explicitly requested time is not bumped.
  BackupOptions bo;
  bo.id = "box";
  bo.time = 1700000000;
  auto clash = ds->StartBackup(bo);
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error().code(), ErrorCode::kAlreadyExists);
}

TEST_F(DatastoreTest, ConcurrentSessionsInOneGroup) {
  auto ds = Open();
  constexpr int kThreads = 4;
  std::vector<Result<BackupSummary>> results(kThreads, Fail(ErrorCode::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] { results[i] = FullBackup(*ds); });
  for (auto& t : threads) t.join();
  std::set<int64_t> times;
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().message();
    times.insert(r->snapshot.time);
  }
  EXPECT_EQ(times.size(), size_t(kThreads));
  auto report = ds->Verify({}, {}, nullptr);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->snapshots_ok, uint64_t(kThreads));
}

TEST_F(DatastoreTest, ADroppedSessionRemovesItsSnapshot) {
  auto ds = Open();
  {
    BackupOptions bo;
    bo.id = "box";
    auto session = ds->StartBackup(bo);
    ASSERT_TRUE(session.has_value());
    ASSERT_TRUE((*session)->AddImage("disk.img", tmp_ / "disk.raw", 64 << 10).has_value());
    EXPECT_EQ(testing::IncompleteSnapshots(store_).size(), 1u);
  }
  EXPECT_EQ(testing::IncompleteSnapshots(store_), std::vector<std::string>{});
}

TEST_F(DatastoreTest, ASessionTakesNoWorkAfterAFailedArchive) {
  auto ds = Open();
  BackupOptions bo;
  bo.id = "box";
  auto session = ds->StartBackup(bo);
  ASSERT_TRUE(session.has_value());
  auto bad = (*session)->AddTar("root.tar", tmp_ / "missing", 64 << 10, nullptr, nullptr);
  ASSERT_FALSE(bad.has_value());
  auto next = (*session)->AddImage("disk.img", tmp_ / "disk.raw", 64 << 10);
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("an earlier step of this backup failed"), std::string::npos);
  EXPECT_FALSE((*session)->Finish().has_value());
}

TEST_F(DatastoreTest, ManifestUpdatesKeepEachOther) {
  auto ds = Open();
  auto summary = FullBackup(*ds);
  ASSERT_TRUE(summary.has_value());
  const SnapshotRef snap = summary->snapshot;
  ASSERT_TRUE(ds->SetNotes(snap, "important").has_value());
  auto report = ds->Verify({snap}, {}, nullptr);
  ASSERT_TRUE(report && report->ok());
  auto info = ds->GetSnapshot(snap);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->notes, "important");
  EXPECT_EQ(info->verify_state, "ok");
  auto m = ImplOf(*ds).snapshot_store().ReadManifest(snap);
  const std::string upid = m->unprotected["verify_state"]["upid"];
  EXPECT_TRUE(upid.starts_with("UPID:")) << upid;
  EXPECT_TRUE(upid.ends_with(":")) << upid;
  // Rewriting the manifest keeps the index digests, so files still check.
  EXPECT_TRUE(ImplOf(*ds).ReadCheckedFile(snap, *m, "root.tar.didx").has_value());
}

TEST_F(DatastoreTest, ForgetRemovesTheSnapshotsManifestLock) {
  auto ds = Open();
  auto first = FullBackup(*ds);
  ASSERT_TRUE(first.has_value());
  auto second = FullBackup(*ds);
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(ds->SetNotes(first->snapshot, "a").has_value());
  ASSERT_TRUE(ds->SetNotes(second->snapshot, "b").has_value());
  auto lock_files = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(store_ + "/.locks"))
      names.insert(e.path().filename().string());
    return names;
  };
  ASSERT_EQ(lock_files().size(), 2u);
  ASSERT_TRUE(ds->Forget(first->snapshot).has_value());
  const std::set<std::string> left = lock_files();
  ASSERT_EQ(left.size(), 1u);
  // The other snapshot's is kept, and its manifest still updates.
  std::string second_name = second->snapshot.RelPath();
  std::replace(second_name.begin(), second_name.end(), '/', '_');
  EXPECT_EQ(*left.begin(), second_name + ".manifest");
  ASSERT_TRUE(ds->SetNotes(second->snapshot, "c").has_value());
  EXPECT_EQ(ds->GetSnapshot(second->snapshot)->notes, "c");
  // A snapshot never annotated has no lock file: forgetting it is fine.
  auto third = FullBackup(*ds);
  ASSERT_TRUE(third.has_value());
  EXPECT_TRUE(ds->Forget(third->snapshot).has_value());
}

TEST_F(DatastoreTest, ForgetIsRefusedWhileASnapshotIsInUse) {
  auto ds = Open();
  auto summary = FullBackup(*ds);
  ASSERT_TRUE(summary.has_value());
  auto reader = ds->OpenArchive(summary->snapshot, "root.tar");
  ASSERT_TRUE(reader.has_value());
  auto r = ds->Forget(summary->snapshot);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kBusy);
  reader->reset();
  EXPECT_TRUE(ds->Forget(summary->snapshot).has_value());
}

TEST_F(DatastoreTest, OpensADatastoreWithoutOurConfig) {
  // A datastore made by PBS has .chunks but no .chunkvault.json.
  fs::remove(store_ + "/.chunkvault.json");
  auto ds = Datastore::Open(Env::Default(), store_, {});
  ASSERT_TRUE(ds.has_value()) << ds.error().message();
  EXPECT_EQ((*ds)->name(), "store");
  auto missing = Datastore::Open(Env::Default(), tmp_ / "nothing", {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("is not a datastore"), std::string::npos);
}

// PBS's rules for a digest that is already stored (chunk_store.rs).
TEST_F(DatastoreTest, ChunkInsertFollowsPbsRules) {
  ChunkStore cs(Env::Default(), store_, SyncLevel::kNone);
  const Bytes data(100000, 7);
  const Digest d = Sha256Of(data);
  const Bytes small = EncodeBlob(data, true), big = EncodeBlob(data, false);
  ASSERT_LT(small.size(), big.size());
  const std::string path = cs.ChunkPath(d);
  EXPECT_TRUE(path.ends_with(".chunks/" + ToHex(d).substr(0, 4) + "/" + ToHex(d)));

  auto r = cs.Insert(d, big);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->existed);
  // A smaller encoding replaces a bigger one.
  r = cs.Insert(d, small);
  EXPECT_FALSE(r->existed);
  EXPECT_EQ(fs::file_size(path), small.size());
  // A bigger (or equal) one is discarded, and the chunk's atime touched.
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  r = cs.Insert(d, big);
  EXPECT_TRUE(r->existed);
  EXPECT_EQ(r->stored_size, small.size());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_atime, 1000);
  EXPECT_EQ(st.st_mtime, 1000);
  // An empty file (a cache marker) is overwritten.
  testing::WriteFile(path, "");
  r = cs.Insert(d, small);
  EXPECT_FALSE(r->existed);
  EXPECT_EQ(fs::file_size(path), small.size());
  // Corrupt chunks are moved aside with increasing numbers.
  EXPECT_EQ(*cs.MarkBad(d), path + ".0.bad");
  ASSERT_TRUE(cs.Insert(d, small).has_value());
  EXPECT_EQ(*cs.MarkBad(d), path + ".1.bad");
  // With all ten numbers taken the last is replaced; a given number is used.
  for (int n = 2; n < 10; ++n) testing::WriteFile(path + "." + std::to_string(n) + ".bad", "x");
  ASSERT_TRUE(cs.Insert(d, small).has_value());
  EXPECT_EQ(*cs.MarkBad(d), path + ".9.bad");
  EXPECT_EQ(fs::file_size(path + ".9.bad"), small.size());
  for (int n = 2; n < 10; ++n) fs::remove(path + "." + std::to_string(n) + ".bad");
  ASSERT_TRUE(cs.Insert(d, small).has_value());
  EXPECT_EQ(*cs.MarkBad(d, 7), path + ".7.bad");
  fs::remove(path + ".7.bad");
  int seen = 0, bad = 0;
  ASSERT_TRUE(cs.ForEachChunk([&](const ChunkFileName& name, const std::string&) -> Status {
    EXPECT_EQ(name.digest, d);
    ++seen;
    bad += !name.bad.empty();
    return {};
  }).has_value());
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(bad, 2);
}

TEST(ChunkFileNameTest, OnlyAChunkOrItsNumberedBadCopyParses) {
  const std::string hex = ToHex(Sha256Of(ByteView()));
  auto chunk = ParseChunkFileName(hex);
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(ToHex(chunk->digest), hex);
  EXPECT_EQ(chunk->bad, "");
  auto bad = ParseChunkFileName(hex + BadSuffix(4));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->bad, ".4.bad");
  // Same length or shape as a bad copy, but not one: a stray, left alone.
  for (const std::string& stray : {hex + ".x.bad", hex + "..bad", hex + ".10.bad", hex + ".4.bak",
                                   hex + ".tmp", hex.substr(1), "g" + hex.substr(1)})
    EXPECT_FALSE(ParseChunkFileName(stray).has_value()) << stray;
}

TEST_F(DatastoreTest, StoreLayoutIsPbs) {
  for (const char* dir : {"/.chunks/0000", "/.chunks/ffff", "/.chunks/a0b1"})
    EXPECT_TRUE(fs::is_directory(store_ + dir)) << dir;
  EXPECT_EQ(fs::status(store_ + "/.chunks/0000").permissions() & fs::perms::all,
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  EXPECT_TRUE(fs::exists(store_ + "/.lock"));
  auto ds = Open();
  auto summary = FullBackup(*ds);
  ASSERT_TRUE(summary.has_value());
  const std::string dir = store_ + "/host/box/" + summary->snapshot.TimeString();
  for (const char* f : {"index.json.blob", "root.tar.didx", "disk.img.fidx", "config.blob"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  EXPECT_EQ(testing::ReadFile(store_ + "/host/box/owner").back(), '\n');
  EXPECT_TRUE(testing::ReadFile(store_ + "/host/box/owner").ends_with("@pam\n"));
}

}  // namespace
}  // namespace chunkvault

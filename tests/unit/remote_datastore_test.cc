// An S3-backed datastore over the in-memory backend: the bucket layout,
// PBS's write order, the .in-use claim, s3-refresh, restores and verify
// from the bucket. The same code runs against Ceph RGW in tests/s3/.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "chunkvault/blob.h"
#include "chunkvault/datastore.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "datastore/remote.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "remote_fixture.h"
#include "backend/forwarding_backend.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Wraps a backend; checks at every PUT under .cnt/ that the local file
// does not hold these bytes yet (manifest, blobs, owner: the bucket gets
// them before they replace the local file) or already does (indexes: local
// first); can fail chosen keys.
class OrderCheckingBackend final : public ForwardingBackend {
 public:
  OrderCheckingBackend(std::shared_ptr<Backend> inner, std::string store_dir, std::string cnt_prefix)
      : ForwardingBackend(std::move(inner)), dir_(std::move(store_dir)), cnt_(std::move(cnt_prefix)) {}

  std::vector<std::string> violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }
  void FailPutsEndingWith(std::string suffix) { fail_suffix_ = std::move(suffix); }

  std::string Describe() const override { return "order-checking " + inner_->Describe(); }
  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override {
    if (key.starts_with(cnt_)) {
      const std::string rel = key.substr(cnt_.size());
      const std::string path = dir_ + "/" + rel;
      const bool local = fs::exists(path) && testing::ReadFile(path) == std::string(AsString(data));
      const bool index = rel.ends_with(".didx") || rel.ends_with(".fidx");
      if (index != local) {
        std::lock_guard lock(mu_);
        violations_.push_back(rel + (index ? " mirrored before it was complete locally"
                                           : " was local before it was mirrored"));
      }
    }
    if (!fail_suffix_.empty() && key.ends_with(fail_suffix_))
      return Fail(ErrorCode::kNetwork, "injected failure for " + key);
    return inner_->Put(key, data, mode);
  }

 private:
  const std::string dir_, cnt_;
  std::string fail_suffix_;
  std::mutex mu_;
  std::vector<std::string> violations_;
};

class RemoteDatastoreTest : public testing::RemoteStoreFixture {
 protected:
  // After verify moved `key`'s object aside: the next backup uploads the
  // chunk again (trusting no marker left behind), and `snap` verifies.
  void ExpectTheNextBackupStoresItAgain(Datastore& ds, const std::string& key, const SnapshotRef& snap) {
    ASSERT_TRUE(Backup(ds).has_value());
    EXPECT_TRUE(bucket_->Head(key)->has_value()) << "the next backup did not upload " << key;
    EXPECT_TRUE(ds.Verify({snap}, {}, nullptr)->ok());
  }

  // A store whose bucket is wrapped in an OrderCheckingBackend.
  std::pair<std::unique_ptr<Datastore>, std::shared_ptr<OrderCheckingBackend>> InitChecked() {
    auto checker = std::make_shared<OrderCheckingBackend>(bucket_, tmp_ / "a", "store/.cnt/");
    InitOptions o;
    o.s3 = s3_;
    o.backend = checker;
    o.name = "store";
    auto ds = Datastore::Init(Env::Default(), tmp_ / "a", o);
    EXPECT_TRUE(ds.has_value()) << ds.error().message();
    return {ds ? std::move(*ds) : nullptr, checker};
  }
};

TEST_F(RemoteDatastoreTest, TheBucketHoldsThePbsLayout) {
  auto ds = Init(tmp_ / "a");
  ASSERT_TRUE(ds.has_value()) << ds.error().message();
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  // The claim.
  auto claim = nlohmann::json::parse(AsString(*bucket_->Get("store/.in-use")));
  EXPECT_EQ(claim["hostname"], Hostname());
  // Every chunk under its PBS key, and its bytes decode to the digest.
  auto chunk_keys = Keys("store/.chunks/");
  EXPECT_EQ(chunk_keys.size(), summary->new_chunks);
  for (const std::string& key : chunk_keys) {
    const std::string hex = key.substr(key.rfind('/') + 1);
    EXPECT_EQ(key, "store/.chunks/" + hex.substr(0, 4) + "/" + hex);
    auto data = DecodeChunk(*bucket_->Get(key), *DigestFromHex(hex));
    EXPECT_TRUE(data.has_value()) << key << ": " << data.error().message();
  }
  // Metadata under .cnt/, byte for byte what is local.
  const std::string snap = "host/box/" + summary->snapshot.TimeString();
  for (const std::string& rel : {snap + "/index.json.blob", snap + "/root.tar.didx",
                                 snap + "/disk.img.fidx", snap + "/config.blob", std::string("host/box/owner")}) {
    auto obj = bucket_->Get("store/.cnt/" + rel);
    ASSERT_TRUE(obj.has_value()) << rel;
    EXPECT_EQ(AsString(*obj), testing::ReadFile(tmp_ / ("a/" + rel))) << rel;
  }
}

TEST_F(RemoteDatastoreTest, MetadataIsMirroredInPbsOrder) {
  auto [ds, checker] = InitChecked();
  ASSERT_NE(ds, nullptr);
  auto summary = Backup(*ds);
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  ASSERT_TRUE(ds->SetNotes(summary->snapshot, "mirrored").has_value());
  ASSERT_TRUE(ds->SetProtected(summary->snapshot, true).has_value());
  EXPECT_EQ(checker->violations(), std::vector<std::string>{});
  EXPECT_EQ(Keys("store/.cnt/host/box/" + summary->snapshot.TimeString() + "/.protected").size(), 1u);
}

TEST_F(RemoteDatastoreTest, AFailedManifestUploadLeavesNoSnapshotAnywhere) {
  auto [ds, checker] = InitChecked();
  ASSERT_NE(ds, nullptr);
  checker->FailPutsEndingWith("/index.json.blob");
  auto r = Backup(*ds);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("injected failure"), std::string::npos);
  // Neither a local snapshot nor its files in the bucket remain.
  EXPECT_EQ(testing::IncompleteSnapshots(tmp_ / "a"), std::vector<std::string>{});
  EXPECT_TRUE((*ds->ListSnapshots({}, false)).empty());
  auto left = Keys("store/.cnt/host/box/2");
  EXPECT_EQ(left, std::vector<std::string>{});
  EXPECT_EQ(checker->violations(), std::vector<std::string>{});
}

TEST_F(RemoteDatastoreTest, RestoresFromTheBucketWhenLocalChunksAreGone) {
  auto ds = Init(tmp_ / "a");
  ASSERT_TRUE(ds.has_value());
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  RemoveLocalChunks(tmp_ / "a");
  auto r = (*ds)->Restore(summary->snapshot, "root.tar", tmp_ / "dst", {}, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "dst"), std::vector<std::string>{});
  // What was fetched is kept locally.
  size_t local = 0;
  for (auto& e : fs::recursive_directory_iterator(tmp_ / "a/.chunks")) local += e.is_regular_file();
  EXPECT_GT(local, 0u);
}

TEST_F(RemoteDatastoreTest, ForgetRemovesTheSnapshotFromTheBucket) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  const std::string prefix = "store/.cnt/host/box/" + summary->snapshot.TimeString() + "/";
  EXPECT_EQ(Keys(prefix).size(), 4u);
  ASSERT_TRUE((*ds)->Forget(summary->snapshot).has_value());
  EXPECT_TRUE(Keys(prefix).empty());
  EXPECT_FALSE(fs::exists(tmp_ / ("a/host/box/" + summary->snapshot.TimeString())));
  // The group's owner stays, as in PBS; the chunks wait for garbage collection.
  EXPECT_EQ(Keys("store/.cnt/host/box/owner").size(), 1u);
  EXPECT_FALSE(Keys("store/.chunks/").empty());
}

TEST_F(RemoteDatastoreTest, APrefixIsClaimedOnce) {
  ASSERT_TRUE(Init(tmp_ / "a").has_value());
  auto second = Init(tmp_ / "b");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(second.error().message().find("--reuse-datastore"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_ / "b/.chunks")) << "nothing is created for a refused prefix";
  // Another host's claim needs --overwrite-in-use as well.
  ASSERT_TRUE(bucket_->Put("store/.in-use", AsBytes(R"({"hostname":"elsewhere"})"), PutMode::kOverwrite));
  InitOptions reuse;
  reuse.reuse_datastore = true;
  auto c = Init(tmp_ / "c", reuse);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("in use by host 'elsewhere'"), std::string::npos) << c.error().message();
  reuse.overwrite_in_use = true;
  ASSERT_TRUE(Init(tmp_ / "d", reuse).has_value());
  EXPECT_EQ(nlohmann::json::parse(AsString(*bucket_->Get("store/.in-use")))["hostname"], Hostname());
  // Objects without a claim count as a datastore too.
  ASSERT_TRUE(bucket_->Put("other/.cnt/host/x/owner", AsBytes("a@pam\n"), PutMode::kOverwrite));
  InitOptions other;
  other.name = "other";
  other.s3 = s3_;
  other.backend = bucket_;
  auto e = Datastore::Init(Env::Default(), tmp_ / "e", other);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message().find("without an .in-use marker"), std::string::npos);
}

TEST_F(RemoteDatastoreTest, ReusingADatastorePullsItsMetadata) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  InitOptions reuse;
  reuse.reuse_datastore = true;
  auto adopted = Init(tmp_ / "b", reuse);
  ASSERT_TRUE(adopted.has_value()) << adopted.error().message();
  auto list = (*adopted)->ListSnapshots({}, false);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, summary->snapshot);
  // No chunk was downloaded, and a restore fetches what it needs.
  size_t local = 0;
  for (auto& e : fs::recursive_directory_iterator(tmp_ / "b/.chunks")) local += e.is_regular_file();
  EXPECT_EQ(local, 0u);
  ASSERT_TRUE((*adopted)->Restore(summary->snapshot, "disk.img", tmp_ / "disk.out", {}, nullptr));
  EXPECT_TRUE(testing::ReadFile(tmp_ / "disk.out") == testing::ReadFile(tmp_ / "disk.raw"));
}

TEST_F(RemoteDatastoreTest, RefreshRebuildsLocalMetadataAndRejectsStrangeKeys) {
  auto ds = Init(tmp_ / "a");
  auto first = Backup(**ds);
  auto second = Backup(**ds);
  ASSERT_TRUE(first && second);
  // Lose the local metadata of one snapshot; the other is forgotten
  // elsewhere (only in the bucket).
  fs::remove_all(tmp_ / ("a/host/box/" + first->snapshot.TimeString()));
  ASSERT_TRUE(DeletePrefix(*bucket_, "store/.cnt/host/box/" + second->snapshot.TimeString() + "/"));
  // Keys that are not datastore paths must not land anywhere.
  for (const char* evil : {"store/.cnt/../escape", "store/.cnt/host/box/not-a-time/x.blob",
                           "store/.cnt/host/box/2020-01-01T00:00:00Z/../../owner",
                           "store/.cnt/standalone", "store/.cnt/vm/1/2020-01-01T00:00:00Z/a.exe"})
    ASSERT_TRUE(bucket_->Put(evil, AsBytes("x"), PutMode::kOverwrite));
  auto report = (*ds)->RefreshFromBackend();
  ASSERT_TRUE(report.has_value()) << report.error().message();
  EXPECT_EQ(report->removed_snapshots, 1u);
  EXPECT_EQ(report->skipped.size(), 5u);
  EXPECT_FALSE(fs::exists(tmp_ / "escape"));
  EXPECT_FALSE(fs::exists(tmp_ / "a/standalone"));
  auto list = (*ds)->ListSnapshots({}, false);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, first->snapshot);
  EXPECT_TRUE((*ds)->Verify({}, {}, nullptr)->ok());
}

TEST_F(RemoteDatastoreTest, VerifyChecksTheBucketsCopies) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  // Damage one chunk in the bucket; the local copy stays good.
  const std::string key = Keys("store/.chunks/").front();
  ASSERT_NO_FATAL_FAILURE(DamageObject(key));
  VerifyOptions local_ok;
  local_ok.use_cache = true;
  local_ok.update_manifest = false;
  EXPECT_TRUE((*ds)->Verify({}, local_ok, nullptr)->ok()) << "the local copies are fine";
  auto report = (*ds)->Verify({}, {}, nullptr);
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->bad_chunks.size(), 1u);
  EXPECT_NE(report->bad_chunks[0].error.find("CRC mismatch"), std::string::npos);
  EXPECT_NE(report->bad_chunks[0].error.find(key), std::string::npos) << report->bad_chunks[0].error;
  // Renamed in the bucket as PBS does, and the local copy moved aside too.
  EXPECT_TRUE(bucket_->Head(key + ".0.bad")->has_value());
  EXPECT_FALSE(bucket_->Head(key)->has_value());
  ASSERT_NO_FATAL_FAILURE(ExpectTheNextBackupStoresItAgain(**ds, key, summary->snapshot));
}

// The same for a chunk the cache had evicted: its local trace is an empty
// marker, which said "in the bucket"; it must not outlive the rename, or
// the next backup would trust it and never upload the chunk again. It
// takes the bucket copy's name (here .1.bad: an earlier .0.bad is in the
// bucket only), which garbage collection reads the object's age off.
TEST_F(RemoteDatastoreTest, VerifyMovesAsideTheMarkerOfABadObject) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  const std::string key = Keys("store/.chunks/").front();
  const std::string name = key.substr(key.rfind('/') + 1);
  const std::filesystem::path local =
      std::filesystem::path(tmp_ / "a") / ".chunks" / name.substr(0, 4) / name;
  ASSERT_TRUE(std::filesystem::exists(local));
  std::filesystem::resize_file(local, 0);  // as an eviction leaves it
  ASSERT_TRUE(bucket_->Put(key + ".0.bad", *bucket_->Get(key), PutMode::kOverwrite));
  ASSERT_NO_FATAL_FAILURE(DamageAndVerify(**ds, key));
  EXPECT_TRUE(bucket_->Head(key + ".1.bad")->has_value());
  EXPECT_FALSE(std::filesystem::exists(local)) << "the marker would claim the chunk is stored";
  EXPECT_TRUE(std::filesystem::exists(local.string() + ".1.bad"));
  EXPECT_FALSE(std::filesystem::exists(local.string() + ".0.bad"));
  ASSERT_NO_FATAL_FAILURE(ExpectTheNextBackupStoresItAgain(**ds, key, summary->snapshot));
}

// A garbage collection between the verify that moved a bad object aside
// and the next backup must not undo the healing: the snapshot still
// references the chunk, which is now in neither place.
TEST_F(RemoteDatastoreTest, AGcAfterVerifyDoesNotHideTheLostChunk) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  const std::string key = Keys("store/.chunks/").front();
  ASSERT_NO_FATAL_FAILURE(DamageAndVerify(**ds, key));
  auto gc = (*ds)->GarbageCollect({}, nullptr);
  ASSERT_TRUE(gc.has_value()) << gc.error().message();
  EXPECT_EQ(gc->missing, std::vector<std::string>{key.substr(key.rfind('/') + 1)});
  EXPECT_EQ(gc->markers_written, 0u);
  ASSERT_NO_FATAL_FAILURE(ExpectTheNextBackupStoresItAgain(**ds, key, summary->snapshot));
}

TEST_F(RemoteDatastoreTest, WithoutTheBucketLocalMetadataStillReads) {
  auto ds = Init(tmp_ / "a");
  auto summary = Backup(**ds);
  ASSERT_TRUE(summary.has_value());
  auto offline = Open(tmp_ / "a", NewUnavailableBackend("bucket 'bkt'", "no S3 credentials"));
  auto list = offline->ListSnapshots({}, false);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 1u);
  auto r = Backup(*offline);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no S3 credentials"), std::string::npos) << r.error().message();
  EXPECT_EQ(testing::IncompleteSnapshots(tmp_ / "a"), std::vector<std::string>{});
}

TEST(ContentPaths, OnlyDatastorePathsAreAccepted) {
  for (const char* ok : {"ns/test/vm/100/owner", "ns/test/vm/100/notes", "vm/100/2025-07-14T14:20:02Z/.protected",
                         "vm/100/2025-07-14T14:20:02Z/drive-scsi0.img.fidx", "ct/100/2025-07-14T14:20:02Z/test.pxar.didx",
                         "host/h/2025-07-14T14:20:02Z/index.json.blob", "ns/test/.namespace",
                         "ns/a/ns/b/.namespace", "ns/a/host/h/2025-07-14T14:20:02Z/qemu-server.conf.blob"})
    EXPECT_TRUE(CheckContentPath(ok).has_value()) << ok;
  for (const char* bad : {"", "standalone-file", "ns/t/ns/t/ns/t/ns/t/ns/t/ns/t/ns/t/ns/t/.namespace",
                          "vm/100/2025-07-14T14:20:02Z/drive-scsi0.img", "vm/2025-07-14T14:20:02Z/x.fidx",
                          "vm/100/x.fidx", "vm/100/.protected", "ns/invalid$ns/vm/1/owner",
                          "ns/test/invalid/100/owner", "vm/inv$lid/2025-07-14T14:20:02Z/x.fidx",
                          "vm/100/2025-07-14T14:20:02Z/invalid-%-a.fidx", "ns/test/../vm/100/owner",
                          "vm/100/2025-07-14T14:20:02Z/sub/x.fidx"})
    EXPECT_FALSE(CheckContentPath(bad).has_value()) << bad;
}

}  // namespace
}  // namespace chunkvault

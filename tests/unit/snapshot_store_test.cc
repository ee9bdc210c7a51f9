// SnapshotStore alone (src/store/snapshot_store.h): the PBS hierarchy on
// disk, listings in PBS's order, and the mirror told in PBS's order (a
// blob, manifest or owner before the local file is replaced, an index
// after, removals first), with a mirror that records what it is told and
// what was on disk at that moment.
#include <gtest/gtest.h>

#include <filesystem>

#include "chunkvault/manifest.h"
#include "store/snapshot_store.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;

class RecordingMirror final : public MetadataMirror {
 public:
  explicit RecordingMirror(std::string base) : base_(std::move(base)) {}

  // "put <rel> (local: yes|no)", "delete <rel>", "delete-tree <rel> (local: ...)".
  std::vector<std::string> calls;
  bool fail = false;

  Status Put(const std::string& rel, ByteView) override { return Record("put", rel); }
  Status Delete(const std::string& rel) override { return Record("delete", rel); }
  Status DeleteTree(const std::string& rel) override { return Record("delete-tree", rel); }

 private:
  Status Record(const std::string& op, const std::string& rel) {
    calls.push_back(op + " " + rel + " (local: " + (fs::exists(base_ + "/" + rel) ? "yes" : "no") +
                    ")");
    if (fail) return Fail(ErrorCode::kNetwork, "injected: the bucket is unreachable");
    return {};
  }
  const std::string base_;
};

SnapshotRef Snap(const std::string& ns, const std::string& id, int64_t time) {
  SnapshotRef s;
  s.group.ns = *BackupNamespace::Parse(ns);
  s.group.type = BackupType::kVm;
  s.group.id = id;
  s.time = time;
  return s;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  // A snapshot directory with a manifest (complete) or without.
  void Make(const SnapshotRef& s, bool complete) {
    fs::create_directories(store_.Path(s));
    if (!complete) return;
    Manifest m;
    m.backup_type = "vm";
    m.backup_id = s.group.id;
    m.backup_time = s.time;
    ASSERT_TRUE(store_.WriteManifest(s, m).has_value());
  }

  testing::TempDir tmp_;
  RecordingMirror mirror_{tmp_.path()};
  SnapshotStore store_{Env::Default(), tmp_.path(), SyncLevel::kNone, &mirror_};
};

TEST_F(SnapshotStoreTest, LaysOutNamespacesGroupsAndSnapshotsAsPbsDoes) {
  const SnapshotRef s = Snap("a/b", "100", 1593179765);
  EXPECT_EQ(store_.Path(s), tmp_ / "ns/a/ns/b/vm/100/2020-06-26T13:56:05Z");
  EXPECT_EQ(store_.FilePath(s, "x.blob"), tmp_ / "ns/a/ns/b/vm/100/2020-06-26T13:56:05Z/x.blob");
  ASSERT_TRUE(store_.CreateNamespace(s.group.ns).has_value());
  EXPECT_TRUE(fs::is_directory(tmp_ / "ns/a/ns/b"));
  // Each level is marked in the bucket, as PBS marks it.
  EXPECT_EQ(mirror_.calls, (std::vector<std::string>{"put ns/a/.namespace (local: no)",
                                                      "put ns/a/ns/b/.namespace (local: no)"}));
  fs::create_directories(store_.Path(s.group));
  ASSERT_TRUE(store_.WriteOwner(s.group, "root@pam").has_value());
  EXPECT_EQ(testing::ReadFile(tmp_ / "ns/a/ns/b/vm/100/owner"), "root@pam\n");
  EXPECT_EQ(*store_.ReadOwner(s.group), "root@pam");
  EXPECT_EQ(*store_.ReadGroupNotes(s.group), "") << "no notes yet";
}

TEST_F(SnapshotStoreTest, ListsGroupsAndSnapshotsOldestFirstAndSkipsStrays) {
  Make(Snap("", "200", 2000), true);
  Make(Snap("", "100", 3000), true);
  Make(Snap("", "100", 1000), false);
  Make(Snap("x", "300", 500), true);
  fs::create_directories(tmp_ / "vm/100/not-a-time");
  auto groups = store_.ListGroups(BackupNamespace{});
  ASSERT_TRUE(groups.has_value());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].id, "100");
  EXPECT_EQ((*groups)[1].id, "200");
  auto snaps = store_.ListSnapshots((*groups)[0]);
  ASSERT_TRUE(snaps.has_value());
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[0].ref.time, 1000);
  EXPECT_FALSE((*snaps)[0].complete);
  EXPECT_EQ((*snaps)[1].ref.time, 3000);
  EXPECT_TRUE((*snaps)[1].complete);
  auto root_only = store_.ListSnapshotsIn(BackupNamespace{}, false);
  ASSERT_TRUE(root_only.has_value());
  EXPECT_EQ(root_only->size(), 3u);
  auto all = store_.ListSnapshotsIn(BackupNamespace{}, true);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 4u);
}

TEST_F(SnapshotStoreTest, TellsTheMirrorBeforeOrAfterTheLocalWriteAsAsked) {
  const SnapshotRef s = Snap("", "100", 1000);
  fs::create_directories(store_.Path(s));
  const std::string dir = s.RelPath();
  ASSERT_TRUE(store_
                  .WriteFile(s, "conf.blob", AsBytes("c"), "", "blob", MirrorOrder::kBeforeLocal)
                  .has_value());
  ASSERT_TRUE(store_
                  .WriteFile(s, "disk.img.fidx", AsBytes("i"), "disk.img.tmp_fidx", "index",
                             MirrorOrder::kAfterLocal)
                  .has_value());
  Manifest m;
  m.backup_type = "vm";
  m.backup_id = "100";
  m.backup_time = 1000;
  ASSERT_TRUE(store_.WriteManifest(s, m).has_value());
  EXPECT_EQ(mirror_.calls,
            (std::vector<std::string>{"put " + dir + "/conf.blob (local: no)",
                                      "put " + dir + "/disk.img.fidx (local: yes)",
                                      "put " + dir + "/index.json.blob (local: no)"}));
  EXPECT_FALSE(fs::exists(store_.FilePath(s, "disk.img.tmp_fidx")));
  auto back = store_.ReadManifest(s);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->backup_id, "100");
}

TEST_F(SnapshotStoreTest, AFailingMirrorLeavesTheLocalFileAsItWas) {
  const SnapshotRef s = Snap("", "100", 1000);
  Make(s, true);
  mirror_.fail = true;
  Manifest m;
  m.backup_type = "vm";
  m.backup_id = "100";
  m.backup_time = 1000;
  m.unprotected["notes"] = "new";
  EXPECT_FALSE(store_.WriteManifest(s, m).has_value());
  auto back = store_.ReadManifest(s);
  ASSERT_TRUE(back.has_value());
  EXPECT_FALSE(back->unprotected.contains("notes")) << "a local file the bucket lacks";
  EXPECT_FALSE(store_.RemoveSnapshot(s).has_value());
  EXPECT_TRUE(fs::exists(store_.Path(s))) << "still here to retry";
}

TEST_F(SnapshotStoreTest, RemovalTellsTheMirrorFirstAndProtectionStopsIt) {
  const SnapshotRef s = Snap("", "100", 1000);
  Make(s, true);
  ASSERT_TRUE(store_.SetProtected(s, true).has_value());
  EXPECT_TRUE(*store_.IsProtected(s));
  auto refused = store_.RemoveSnapshot(s);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kProtected);
  EXPECT_TRUE(fs::exists(store_.Path(s)));
  ASSERT_TRUE(store_.SetProtected(s, false).has_value());
  mirror_.calls.clear();
  ASSERT_TRUE(store_.RemoveSnapshot(s).has_value());
  EXPECT_EQ(mirror_.calls,
            std::vector<std::string>{"delete-tree " + s.RelPath() + " (local: yes)"});
  EXPECT_FALSE(fs::exists(store_.Path(s)));
  EXPECT_TRUE(fs::exists(store_.Path(s.group))) << "the group stays, as in PBS";
}

TEST_F(SnapshotStoreTest, AnUnfinishedSnapshotGoesLocallyEvenWithoutTheMirror) {
  const SnapshotRef s = Snap("", "100", 1000);
  Make(s, false);
  mirror_.fail = true;
  EXPECT_FALSE(store_.RemoveUnfinished(s).has_value()) << "the mirror's failure is told";
  EXPECT_FALSE(fs::exists(store_.Path(s)));
}

}  // namespace
}  // namespace chunkvault

// Prune selection with PBS's semantics, as a pure function of the
// snapshot list (times in UTC for these tests).
#include "datastore/prune.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "chunkvault/time.h"
#include "remote_fixture.h"

namespace chunkvault {
namespace {

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  // Candidates from RFC 3339 times, complete and unprotected.
  static std::vector<PruneCandidate> At(const std::vector<std::string>& times) {
    std::vector<PruneCandidate> out;
    for (const std::string& t : times) out.push_back({*ParseRfc3339(t), true, false});
    return out;
  }
  // "k" keep, "p" keep-partial, "P" protected, "-" remove.
  static std::string Marks(const std::vector<PruneCandidate>& c, const PruneOptions& o) {
    std::string out;
    for (PruneMark m : ComputePrune(c, o))
      out += m == PruneMark::kKeep          ? 'k'
             : m == PruneMark::kKeepPartial ? 'p'
             : m == PruneMark::kProtected   ? 'P'
                                            : '-';
    return out;
  }
};

TEST_F(PruneTest, KeepLastKeepsTheNewest) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z",
               "2026-01-04T10:00:00Z", "2026-01-05T10:00:00Z"});
  PruneOptions o;
  o.keep_last = 2;
  EXPECT_EQ(Marks(c, o), "---kk");
}

TEST_F(PruneTest, KeepDailyKeepsTheNewestOfEachDay) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z", "2026-01-02T09:00:00Z",
               "2026-01-02T18:00:00Z", "2026-01-03T08:00:00Z"});
  PruneOptions o;
  o.keep_daily = 2;
  EXPECT_EQ(Marks(c, o), "---kk");
  o.keep_daily = 3;
  EXPECT_EQ(Marks(c, o), "-k-kk");
}

TEST_F(PruneTest, LaterOptionsSkipPeriodsEarlierOnesCovered) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z", "2026-01-02T09:00:00Z",
               "2026-01-02T18:00:00Z", "2026-01-03T08:00:00Z"});
  PruneOptions o;
  o.keep_last = 1;   // 01-03 08:00
  o.keep_daily = 2;  // 01-03 is covered: 01-02 18:00 and 01-01 12:00
  EXPECT_EQ(Marks(c, o), "-k-kk");
}

TEST_F(PruneTest, WeeksAreIsoWeeks) {
  // Sunday 2026-01-04 ends ISO week 1; Monday 2026-01-05 starts week 2.
  auto c = At({"2026-01-03T10:00:00Z", "2026-01-04T10:00:00Z", "2026-01-05T10:00:00Z"});
  PruneOptions o;
  o.keep_weekly = 2;
  EXPECT_EQ(Marks(c, o), "-kk");
  o.keep_weekly.reset();
  o.keep_monthly = 1;
  EXPECT_EQ(Marks(c, o), "--k");
  o.keep_monthly.reset();
  o.keep_yearly = 5;
  EXPECT_EQ(Marks(c, o), "--k");
}

TEST_F(PruneTest, ProtectedSnapshotsStayAndDoNotCount) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"});
  c[2].is_protected = true;
  c[0].is_protected = true;
  PruneOptions o;
  o.keep_last = 1;
  EXPECT_EQ(Marks(c, o), "PkP");
}

TEST_F(PruneTest, OnlyTheNewestIncompleteSnapshotIsKept) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z",
               "2026-01-04T10:00:00Z"});
  c[3].complete = false;  // the newest: perhaps still running
  c[1].complete = false;  // an old failure
  PruneOptions o;
  o.keep_last = 1;
  EXPECT_EQ(Marks(c, o), "--kp");
}

TEST_F(PruneTest, WithoutOptionsEverythingStays) {
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z"});
  c[0].complete = false;
  EXPECT_EQ(Marks(c, {}), "kk");
}

// Prune on an S3-backed store (memory bucket): what goes is gone locally
// and from the bucket's .cnt/; protected snapshots stay; a dry run
// changes nothing.
class PruneStoreTest : public testing::RemoteStoreFixture {};

TEST_F(PruneStoreTest, RemovesWhatTheRulesDoNotKeepEverywhere) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  auto ds = Init(tmp_ / "a");
  ASSERT_TRUE(ds.has_value());
  std::vector<SnapshotRef> snaps;
  for (const char* t : {"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-02T11:00:00Z",
                        "2026-01-03T10:00:00Z"}) {
    BackupOptions bo;
    bo.id = "box";
    bo.time = *ParseRfc3339(t);
    auto session = (*ds)->StartBackup(bo);
    ASSERT_TRUE(session.has_value());
    ASSERT_TRUE((*session)->AddBlob("config.blob", AsBytes(std::string(t))).has_value());
    auto summary = (*session)->Finish();
    ASSERT_TRUE(summary.has_value()) << summary.error().message();
    snaps.push_back(summary->snapshot);
  }
  ASSERT_TRUE((*ds)->SetProtected(snaps[0], true).has_value());
  PruneOptions o;
  o.keep_daily = 1;
  auto dry = (*ds)->Prune({}, std::nullopt, o, /*dry_run=*/true);
  ASSERT_TRUE(dry.has_value());
  EXPECT_EQ(dry->removed, 2u);
  EXPECT_EQ((*ds)->ListSnapshots({}, true)->size(), 4u);

  auto done = (*ds)->Prune({}, std::nullopt, o, /*dry_run=*/false);
  ASSERT_TRUE(done.has_value()) << done.error().message();
  EXPECT_TRUE(done->ok());
  EXPECT_EQ(done->removed, 2u);
  ASSERT_EQ(done->entries.size(), 4u);
  EXPECT_EQ(done->entries[0].snapshot, snaps[3]);  // newest first
  EXPECT_EQ(done->entries[0].mark, PruneMark::kKeep);
  EXPECT_EQ(done->entries[3].mark, PruneMark::kProtected);
  auto left = (*ds)->ListSnapshots({}, true);
  ASSERT_EQ(left->size(), 2u);
  for (int gone : {1, 2}) {
    EXPECT_EQ(Keys("store/.cnt/" + snaps[size_t(gone)].RelPath() + "/"), std::vector<std::string>{})
        << snaps[size_t(gone)].ToString();
  }
  EXPECT_FALSE(Keys("store/.cnt/" + snaps[0].RelPath() + "/").empty());
}

}  // namespace
}  // namespace chunkvault

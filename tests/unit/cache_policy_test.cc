// Cache policies with deterministic eviction orders: an eviction callback
// records which chunks leave, in order.
#include <gtest/gtest.h>

#include <map>

#include "cache/policy.h"
#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

Digest D(const std::string& name) { return Sha256Of(AsBytes(name)); }

// Replays "A B A C ..." (each chunk 10 bytes) and names what was evicted.
struct Replay {
  std::unique_ptr<CachePolicy> policy;
  std::unique_ptr<PolicySimulator> sim;
  std::map<Digest, std::string> names;
  std::vector<std::string> evicted;

  Replay(const std::string& policy_name, uint64_t capacity)
      : policy(*NewCachePolicy(policy_name, capacity)),
        sim(std::make_unique<PolicySimulator>(policy.get(), capacity)) {
    sim->OnEvict([this](const Digest& d) { evicted.push_back(names[d]); });
  }
  // Returns the hits, e.g. "-+-" for miss, hit, miss.
  std::string Run(const std::string& trace, uint64_t size = 10) {
    std::string out;
    size_t pos = 0;
    while (pos < trace.size()) {
      size_t end = trace.find(' ', pos);
      std::string name = trace.substr(pos, end - pos);
      names[D(name)] = name;
      out += sim->Access(D(name), size) ? '+' : '-';
      if (end == std::string::npos) break;
      pos = end + 1;
    }
    return out;
  }
};

TEST(S3Fifo, OneHitWondersLeaveFirstAndReadChunksMoveToMain) {
  Replay r("s3fifo", 30);  // small queue target: 3 bytes, i.e. one chunk
  EXPECT_EQ(r.Run("A B C A"), "---+");
  // D needs room: small's oldest A was read, so it moves to main; B was
  // not, so B leaves (and is remembered in the ghost).
  EXPECT_EQ(r.Run("D"), "-");
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"B"}));
  EXPECT_EQ(r.Run("E"), "-");
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"B", "C"}));
  // B comes back: the ghost sends it straight to main.
  EXPECT_EQ(r.Run("B"), "-");
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"B", "C", "D"}));
  EXPECT_TRUE(r.policy->Contains(D("A")));
  EXPECT_TRUE(r.policy->Contains(D("B")));
  EXPECT_TRUE(r.policy->Contains(D("E")));
}

TEST(S3Fifo, MainGivesReadChunksAnotherLap) {
  Replay r("s3fifo", 30);
  // A, B and C are read while in small: D's arrival moves all three to
  // main, and main, unread since, gives up its oldest, A.
  r.Run("A B C A B C D");
  ASSERT_EQ(r.evicted, (std::vector<std::string>{"A"}));
  // Read B (in main) and D (in small). E's arrival moves D to main; then
  // main's oldest, B, was read: it goes round again and C leaves instead.
  r.Run("B D E");
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"A", "C"}));
  EXPECT_TRUE(r.policy->Contains(D("B")));
  EXPECT_TRUE(r.policy->Contains(D("D")));
}

// The point of S3-FIFO for a backup store: a one-pass scan (a verify or a
// full restore of something else) must not flush the working set.
TEST(S3Fifo, AScanDoesNotFlushTheWorkingSet) {
  for (const char* name : {"s3fifo", "lru"}) {
    Replay r(name, 100);  // ten chunks
    std::string hot = "H1 H2 H3 H4 H5";
    r.Run(hot + " " + hot + " " + hot);
    std::string scan;
    for (int i = 0; i < 50; ++i) scan += (i ? " S" : "S") + std::to_string(i);
    r.Run(scan);
    std::string after = r.Run(hot);
    if (std::string(name) == "s3fifo") EXPECT_EQ(after, "+++++") << name;
    else EXPECT_EQ(after, "-----") << name << ": LRU loses the hot set to the scan";
  }
}

TEST(S3Fifo, SizesAreBytes) {
  Replay r("s3fifo", 100);
  r.Run("A B C");    // 30 bytes
  r.Run("BIG", 80);  // 80 more: 10 must go, and A alone frees them
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"A"}));
  EXPECT_EQ(r.policy->bytes(), 100u);
  r.Run("D", 90);    // 90 bytes must be free: B, C, then BIG (oldest first)
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"A", "B", "C", "BIG"}));
  EXPECT_EQ(r.policy->bytes(), 90u);
  EXPECT_EQ(r.Run("HUGE", 101), "-");  // larger than the cache: not admitted
  EXPECT_FALSE(r.policy->Contains(D("HUGE")));
}

TEST(Lru, EvictsTheLeastRecentlyUsed) {
  Replay r("lru", 30);
  r.Run("A B C A D E");
  EXPECT_EQ(r.evicted, (std::vector<std::string>{"B", "C"}));
}

TEST(CachePolicy, DumpAndLoadKeepTheEvictionOrder) {
  for (const char* name : {"s3fifo", "lru"}) {
    Replay a(name, 60), b(name, 60);
    const std::string trace = "A B A C D B E F A G H C I";
    a.Run(trace);
    b.Run(trace);
    // Rebuild b from a dump; both must then evict the same way.
    auto dumped = b.policy->Dump();
    auto fresh = *NewCachePolicy(name, 60);
    fresh->Load(dumped);
    EXPECT_EQ(fresh->bytes(), a.policy->bytes()) << name;
    for (int i = 0; i < 6; ++i) {
      auto x = a.policy->Evict(), y = fresh->Evict();
      ASSERT_EQ(x.has_value(), y.has_value()) << name;
      if (x) {
        EXPECT_EQ(*x, *y) << name << " eviction " << i;
      }
    }
  }
}

TEST(CachePolicy, EraseForgetsAChunk) {
  Replay r("s3fifo", 100);
  r.Run("A B C");
  r.policy->Erase(D("B"));
  EXPECT_FALSE(r.policy->Contains(D("B")));
  EXPECT_EQ(r.policy->bytes(), 20u);
  EXPECT_EQ(r.policy->count(), 2u);
  EXPECT_FALSE(NewCachePolicy("arc", 10).has_value());
}

}  // namespace
}  // namespace chunkvault

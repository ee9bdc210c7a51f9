// Metadata change detection: a split archive written against the previous
// one reuses the payload chunks of unchanged files without reading them,
// and restores the tree as a fresh archive would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "archive/pxar/decoder.h"
#include "archive/pxar/extract.h"
#include "archive/pxar/reuse.h"
#include "archive/pxar/tree_writer.h"
#include "chunker/chunk_assembler.h"
#include "chunkvault/hash.h"
#include "support/pxar_samples.h"
#include "support/tree_util.h"

namespace chunkvault::pxar {
namespace {

namespace fs = std::filesystem;
using testing::CompareTrees;
using testing::MemorySink;
using testing::TempDir;

PreviousArchive IndexOf(std::vector<uint64_t> ends) {
  PreviousArchive p;
  for (size_t i = 0; i < ends.size(); ++i) p.payload_digests.push_back(Sha256Of(Bytes{uint8_t(i)}));
  p.payload_ends = std::move(ends);
  return p;
}

TEST(PxarReuse, TheChunksOfARange) {
  const PreviousArchive p = IndexOf({100, 250, 400, 1000});
  auto r = ChunksOfRange(p, 120, 380);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->chunks.size(), 2u);
  EXPECT_EQ(r->chunks[0].end, 250u);
  EXPECT_EQ(r->chunks[0].size, 150u);
  EXPECT_EQ(r->start_padding, 20u);
  EXPECT_EQ(r->end_padding, 20u);
  EXPECT_EQ(r->chunks[0].index, 1u);
  EXPECT_EQ(r->chunks[1].index, 2u);
  EXPECT_EQ(r->chunks[1].Start(), 250u);
  // A range ending where a chunk ends takes no chunk after it (PBS takes
  // the next one whole, all padding).
  r = ChunksOfRange(p, 0, 250);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->chunks.size(), 2u);
  EXPECT_EQ(r->end_padding, 0u);
  // One chunk holding the whole range.
  r = ChunksOfRange(p, 500, 600);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->chunks.size(), 1u);
  EXPECT_EQ(r->start_padding + r->end_padding, 100u + 400u);
  // Past the index, or backwards: the previous archive is inconsistent.
  EXPECT_EQ(ChunksOfRange(p, 900, 1001).error().code(), ErrorCode::kCorrupt);
  EXPECT_FALSE(ChunksOfRange(p, 300, 300).has_value());
  PreviousArchive bad = IndexOf({100, 50, 400});
  EXPECT_EQ(ChunksOfRange(bad, 10, 300).error().code(), ErrorCode::kCorrupt);
}

// Chunks of 1000 bytes; a run of files 100 bytes each.
PreviousArchive Thousands(size_t chunks) {
  std::vector<uint64_t> ends;
  for (size_t i = 1; i <= chunks; ++i) ends.push_back(1000 * i);
  return IndexOf(std::move(ends));
}
std::vector<uint64_t> Files(uint64_t start, uint64_t end) {
  std::vector<uint64_t> b;
  for (uint64_t at = start; at <= end; at += 100) b.push_back(at);
  return b;
}

TEST(PxarReusePlan, PaddingIsWhatNoFileReferences) {
  const PreviousArchive p = Thousands(10);
  // Alone, a run 2100..8900 pays for its first and last chunks' other
  // bytes (PBS's rule): 100 + 100 of 7000, reused whole.
  auto plan = PlanRun(p, Files(2100, 8900), {}, std::nullopt);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->head + plan->tail, 0u);
  EXPECT_EQ(plan->padding, 200u);
  EXPECT_EQ(plan->chunks.chunks.size(), 7u);
  EXPECT_EQ(plan->counted_to, 9000u);
  // Its first chunk's bytes before it, referenced by the run before
  // (which counted up to 1500): only 1500..1900 is padding; the chunk
  // will stand twice in the new stream.
  plan = PlanRun(p, Files(1900, 8000), ReuseFrontier{1, false, 1, 1500, 0, 0}, std::nullopt);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->head, 0u);
  EXPECT_EQ(plan->padding, 400u);
  EXPECT_FALSE(plan->continues_kept);
  plan = PlanRun(p, Files(1900, 8000), ReuseFrontier{1, true, 0, 1500, 0, 0}, std::nullopt);
  EXPECT_TRUE(plan->continues_kept);
  EXPECT_EQ(plan->padding, 400u);
  // Not three times: PBS's count (900 of 7000), and the file in that
  // chunk read instead.
  plan = PlanRun(p, Files(1900, 8000), ReuseFrontier{1, false, 2, 1500, 0, 0}, std::nullopt);
  EXPECT_EQ(plan->head, 1u);
  EXPECT_EQ(plan->padding, 0u);
  // A run within the chunk the run before reached into.
  plan = PlanRun(p, Files(2600, 2900), ReuseFrontier{2, false, 1, 2600, 0, 0}, 2900);
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->padding, 0u);
  plan = PlanRun(p, Files(2600, 2900), ReuseFrontier{2, false, 2, 2600, 0, 0}, 2900);
  EXPECT_FALSE(plan->reuse);
  // The limit holds for the runs so far together: after 9000 bytes
  // reused with 300 of padding, this run's 600 (of 900) keep it.
  plan = PlanRun(p, Files(2600, 2900), ReuseFrontier{2, false, 2, 2600, 300, 9000}, 2900);
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->padding, 600u);
  plan = PlanRun(p, Files(2600, 2900), ReuseFrontier{2, false, 2, 2600, 500, 9000}, 2900);
  EXPECT_FALSE(plan->reuse);
  // Of the last chunk's bytes after it, a changed file's old ones (to
  // `follow`) are padding, the next run's not.
  plan = PlanRun(p, Files(2000, 6200), {}, 6300);
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->tail, 0u);
  EXPECT_EQ(plan->padding, 100u);
  EXPECT_EQ(plan->counted_to, 6300u);
  // Nothing known to follow: all of them (800 of 5000), and the two
  // files in that chunk read instead.
  plan = PlanRun(p, Files(2000, 6200), {}, std::nullopt);
  EXPECT_EQ(plan->tail, 2u);
  EXPECT_EQ(plan->padding, 0u);
  EXPECT_EQ(plan->counted_to, 6000u);
}

TEST(PxarReusePlan, OnlyTheFilesOfAChunkOverTheLimitAreRead) {
  const PreviousArchive p = Thousands(10);
  // 2900..9000 alone would pay 900 of 7000 for its first chunk: the one
  // file there is read, the rest reused from 3000.
  auto plan = PlanRun(p, Files(2900, 9000), {}, std::nullopt);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->reuse);
  EXPECT_EQ(plan->head, 1u);
  EXPECT_EQ(plan->tail, 0u);
  EXPECT_EQ(plan->padding, 0u);
  EXPECT_EQ(plan->chunks.chunks.front().index, 3u);
  // The same at the end: 1000..7100 followed by the end of the tree.
  plan = PlanRun(p, Files(1000, 7100), {}, std::nullopt);
  EXPECT_EQ(plan->head, 0u);
  EXPECT_EQ(plan->tail, 1u);
  EXPECT_EQ(plan->chunks.chunks.back().index, 6u);
  EXPECT_EQ(plan->counted_to, 7000u);
  // Both ends.
  plan = PlanRun(p, Files(2900, 7100), {}, std::nullopt);
  EXPECT_EQ(plan->head, 1u);
  EXPECT_EQ(plan->tail, 1u);
  // A run within one chunk cannot be trimmed: read.
  plan = PlanRun(p, Files(4500, 4700), {}, std::nullopt);
  EXPECT_FALSE(plan->reuse);
  // Past the index: the previous archive is inconsistent.
  EXPECT_EQ(PlanRun(p, Files(9500, 10100), {}, std::nullopt).error().code(), ErrorCode::kCorrupt);
}

// A store of chunks in memory and the split archives written into it.
class Store {
 public:
  struct Archive {
    Bytes meta;
    std::vector<uint64_t> ends;
    std::vector<Digest> digests;
    TarStats stats;
    uint64_t new_bytes = 0;  // payload bytes cut fresh (not reused)
  };

  Archive Backup(const std::string& root, const Archive* previous, TarObserver* observer = nullptr,
                 std::function<bool(const Digest&)> usable = nullptr) {
    Archive a;
    MemorySink meta;
    ChunkAssembler assembler(kAvg, 4, [&](ByteBuffer chunk) -> Status {
      const Digest d = Sha256Of(chunk.view());
      chunks_[d] = Bytes(chunk.view().begin(), chunk.view().end());
      a.ends.push_back((a.ends.empty() ? 0 : a.ends.back()) + chunk.size());
      a.digests.push_back(d);
      a.new_bytes += chunk.size();
      return {};
    });
    StreamSinkOf<ChunkAssembler> payload(assembler, [&](const ReusedChunk& c) -> Status {
      EXPECT_TRUE(chunks_.contains(c.digest));
      a.ends.push_back((a.ends.empty() ? 0 : a.ends.back()) + c.size);
      a.digests.push_back(c.digest);
      return {};
    });
    TreeWriteOptions options;
    static const Bytes kNone;
    MemoryInput prev_meta(previous ? previous->meta : kNone);
    PreviousArchive prev;
    if (previous) {
      prev.meta = &prev_meta;
      prev.meta_size = previous->meta.size();
      prev.payload_ends = previous->ends;
      prev.payload_digests = previous->digests;
      prev.usable = std::move(usable);
      options.previous = &prev;
    }
    auto stats = WriteTree(root, options, meta, &payload, observer);
    EXPECT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_TRUE(assembler.Finish().has_value());
    a.meta = std::move(meta.out);
    a.stats = stats.value_or(TarStats{});
    return a;
  }

  Bytes PayloadOf(const Archive& a) {
    Bytes out;
    for (const Digest& d : a.digests) out.insert(out.end(), chunks_[d].begin(), chunks_[d].end());
    return out;
  }

  // Restores `a` into `target` and compares it with `root`.
  std::vector<std::string> RestoreAndCompare(const Archive& a, const std::string& root,
                                             const std::string& target) {
    const Bytes payload = PayloadOf(a);
    MemoryInput meta_in(a.meta), payload_in(payload);
    Decoder decoder(meta_in, &payload_in);
    ExtractOptions options;
    options.jobs = 2;
    auto restored = ExtractPxar(decoder, target, options, nullptr);
    if (!restored) return {"restore failed: " + restored.error().message()};
    return CompareTrees(root, target);
  }

  static constexpr size_t kAvg = 64 << 10;

 private:
  std::map<Digest, Bytes> chunks_;
};

// Files of 1 KiB to `max_size` of random bytes in a few directories, and
// some that are not regular files.
void MakeTree(const std::string& root, int files, size_t max_size = 40 << 10) {
  std::mt19937 rng(7);
  for (int i = 0; i < files; ++i) {
    std::string data(1024 + rng() % (max_size - 1024), '\0');
    for (char& c : data) c = char(rng());
    const std::string dir = root + "/d" + std::to_string(i % 7);
    fs::create_directories(dir);
    testing::WriteFile(dir + "/f" + std::to_string(i), data);
  }
  fs::create_directories(root + "/empty");
  fs::create_symlink("d0/f0", root + "/link");
  fs::create_hard_link(root + "/d1/f1", root + "/d2/hard");
}

class PxarReuseTree : public ::testing::Test {
 protected:
  void SetUp() override { MakeTree(root_, kFiles); }
  static constexpr int kFiles = 400;
  TempDir tmp_;
  const std::string root_ = tmp_ / "t";
  Store store_;
};

TEST_F(PxarReuseTree, AnUnchangedTreeIsNotRead) {
  const Store::Archive first = store_.Backup(root_, nullptr);
  const Store::Archive second = store_.Backup(root_, &first);
  const ReuseStats& r = second.stats.reuse;
  EXPECT_EQ(r.files_reused, uint64_t(kFiles));  // the hard link is a link
  EXPECT_EQ(r.files_reencoded, 0u);
  EXPECT_EQ(r.files_new, 0u);
  EXPECT_EQ(r.bytes_read, 0u);
  EXPECT_EQ(r.chunks_reused, first.digests.size());
  EXPECT_EQ(r.bytes_reused + 16 * uint64_t(kFiles) + r.padding, first.ends.back());
  // Fresh bytes: the new stream's start and tail markers only.
  EXPECT_EQ(second.new_bytes, 32u);
  EXPECT_EQ(second.stats.files, first.stats.files);
  EXPECT_EQ(second.stats.bytes, first.stats.bytes);
  EXPECT_EQ(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
  // Again from the second: the refs moved by the start marker's chunk.
  const Store::Archive third = store_.Backup(root_, &second);
  EXPECT_EQ(third.stats.reuse.bytes_read, 0u);
  EXPECT_EQ(third.new_bytes, 32u);
  EXPECT_EQ(store_.RestoreAndCompare(third, root_, tmp_ / "out3"), std::vector<std::string>{});
}

TEST_F(PxarReuseTree, OnlyChangedAndNewFilesAreRead) {
  const Store::Archive first = store_.Backup(root_, nullptr);
  testing::WriteFile(root_ + "/d3/f3", std::string(5000, 'c'));   // changed
  testing::WriteFile(root_ + "/d4/new", std::string(7000, 'n'));  // new
  fs::remove(root_ + "/d5/f5");                                   // gone
  const Store::Archive second = store_.Backup(root_, &first);
  const ReuseStats& r = second.stats.reuse;
  EXPECT_EQ(r.files_new, 1u);
  // Only the changed file is read: the chunk it shares with its
  // neighbours is reused by the runs on either side, its old bytes the
  // only padding they count.
  EXPECT_EQ(r.files_reencoded, 1u);
  EXPECT_EQ(r.files_reused, uint64_t(kFiles) - 2);
  EXPECT_EQ(r.bytes_read, 12000u);
  EXPECT_EQ(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
}

// PBS's documented limit: a change that keeps the size and the times is
// not seen; data mode reads it.
TEST_F(PxarReuseTree, AChangeKeepingSizeAndMtimeIsOnlySeenInDataMode) {
  const std::string file = root_ + "/d6/f6";
  const struct stat before = [&] {
    struct stat st;
    ::stat(file.c_str(), &st);
    return st;
  }();
  const std::string old = testing::ReadFile(file);
  const Store::Archive first = store_.Backup(root_, nullptr);
  testing::WriteFile(file, std::string(old.size(), 'z'));
  testing::SetMtime(file, before.st_mtim.tv_sec, before.st_mtim.tv_nsec);
  const Store::Archive second = store_.Backup(root_, &first);
  EXPECT_EQ(second.stats.reuse.bytes_read, 0u);
  EXPECT_NE(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
  EXPECT_EQ(testing::ReadFile(tmp_ / "out/d6/f6"), old);
  const Store::Archive data = store_.Backup(root_, nullptr);
  EXPECT_EQ(store_.RestoreAndCompare(data, root_, tmp_ / "out2"), std::vector<std::string>{});
}

// Reusing what is left of a tree of small files, most of them gone, would
// carry more than 10% padding (a chunk holds a dozen of them): those files
// are read instead. Where nothing is gone, the padding stays under the
// limit and the chunks are reused.
TEST(PxarReuse, ThePaddingLimitDecidesBetweenReuseAndReading) {
  TempDir tmp;
  const std::string root = tmp / "t";
  MakeTree(root, 400, 3000);
  Store store;
  const Store::Archive first = store.Backup(root, nullptr);
  for (int i = 0; i < 400; ++i)
    if (i % 4 != 0) fs::remove(root + "/d" + std::to_string(i % 7) + "/f" + std::to_string(i));
  const Store::Archive sparse = store.Backup(root, &first);
  EXPECT_EQ(sparse.stats.reuse.files_reused, 0u);
  EXPECT_EQ(sparse.stats.reuse.chunks_reused, 0u);
  EXPECT_EQ(sparse.stats.reuse.files_reencoded, 100u + 1);  // and d2/hard, a link no more
  EXPECT_EQ(store.RestoreAndCompare(sparse, root, tmp / "out"), std::vector<std::string>{});
  // From that archive, the same tree again: all of it reused, and the
  // padding of what was reused within the limit.
  const Store::Archive again = store.Backup(root, &sparse);
  const ReuseStats& r = again.stats.reuse;
  EXPECT_EQ(r.bytes_read, 0u);
  EXPECT_EQ(r.files_reused, 101u);
  EXPECT_LE(double(r.padding),
            kMaxPaddingRatio * double(r.bytes_reused + 16 * r.files_reused + r.padding));
  EXPECT_EQ(store.RestoreAndCompare(again, root, tmp / "out2"), std::vector<std::string>{});
}

TEST_F(PxarReuseTree, AChunkThatIsGoneIsNotReused) {
  const Store::Archive first = store_.Backup(root_, nullptr);
  const Digest gone = first.digests[first.digests.size() / 2];
  int asked = 0;
  const Store::Archive second = store_.Backup(root_, &first, nullptr, [&](const Digest& d) {
    ++asked;
    return d != gone;
  });
  // Each chunk asked once; the files in the gone one are read, the others
  // reused.
  EXPECT_EQ(asked, int(first.digests.size()));
  EXPECT_GT(second.stats.reuse.files_reencoded, 0u);
  EXPECT_GT(second.stats.reuse.files_reused, 0u);
  // Its data cut anew (the same bytes: a store would then upload it again).
  EXPECT_GT(second.new_bytes, Store::kAvg / 4);
  EXPECT_EQ(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
}

TEST_F(PxarReuseTree, AnUnreadablePreviousArchiveMeansReading) {
  Store::Archive first = store_.Backup(root_, nullptr);
  first.meta.resize(first.meta.size() / 2);
  struct Told : TarObserver {
    void OnWarning(const std::string& m) override { messages.push_back(m); }
    std::vector<std::string> messages;
  } told;
  const Store::Archive second = store_.Backup(root_, &first, &told);
  ASSERT_FALSE(told.messages.empty());
  EXPECT_NE(told.messages[0].find("previous archive"), std::string::npos) << told.messages[0];
  EXPECT_EQ(second.stats.warnings, 0u);
  EXPECT_EQ(second.stats.reuse.files_reused, 0u);
  EXPECT_EQ(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
}

// A payload index holding an empty chunk (PBS writes none; a hostile or
// damaged one may) is not reused from; the backup goes on reading.
TEST_F(PxarReuseTree, APayloadIndexWithAnEmptyChunkMeansReading) {
  Store::Archive first = store_.Backup(root_, nullptr);
  ASSERT_GT(first.ends.size(), 2u);
  const size_t at = first.ends.size() / 2;
  first.ends.insert(first.ends.begin() + long(at), first.ends[at - 1]);
  first.digests.insert(first.digests.begin() + long(at), first.digests[at]);
  struct Told : TarObserver {
    void OnWarning(const std::string& m) override { messages.push_back(m); }
    std::vector<std::string> messages;
  } told;
  const Store::Archive second = store_.Backup(root_, &first, &told);
  ASSERT_EQ(told.messages.size(), 1u);
  EXPECT_NE(told.messages[0].find("payload index's entry " + std::to_string(at) + " (chunk " +
                                  ToHex(first.digests[at]) + ") is empty"),
            std::string::npos)
      << told.messages[0];
  EXPECT_EQ(second.stats.reuse.files_reused, 0u);
  EXPECT_EQ(second.stats.reuse.files_reencoded + second.stats.reuse.files_new, uint64_t(kFiles));
  EXPECT_EQ(store_.RestoreAndCompare(second, root_, tmp_ / "out"), std::vector<std::string>{});
}

}  // namespace
}  // namespace chunkvault::pxar

// The two halves of the chunk path alone, on a real chunk store: the
// ChunkUploader a backup feeds (digests in order, each chunk stored once,
// the first error kept) and the ChunkStream a restore reads (chunks in
// order, each checked, the first bad one ending the stream). Faults come
// from a ChunkAccess that wraps the store's and fails chosen chunks.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "datastore/chunk_access.h"
#include "datastore/chunk_stream.h"
#include "datastore/chunk_uploader.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

// The store's ChunkAccess, recording inserts and failing the digests in
// `fail`.
class WatchedAccess final : public ChunkAccess {
 public:
  explicit WatchedAccess(ChunkStore* store) : inner_(NewLocalChunkAccess(store)) {}

  std::set<Digest> fail;
  std::mutex mu;
  std::vector<Digest> inserted;  // guarded by mu
  std::map<Digest, int> reads;   // guarded by mu

  Result<bool> TouchIfPresent(const Digest& d) override { return inner_->TouchIfPresent(d); }
  Result<InsertResult> Insert(const Digest& d, ByteView blob) override {
    if (fail.count(d)) return Fail(ErrorCode::kIo, "injected: cannot store " + ToHex(d));
    {
      std::lock_guard lock(mu);
      inserted.push_back(d);
    }
    return inner_->Insert(d, blob);
  }
  Result<Bytes> ReadRaw(const Digest& d, ReadFrom from) override {
    if (fail.count(d)) return Fail(ErrorCode::kIo, "injected: cannot read " + ToHex(d));
    {
      std::lock_guard lock(mu);
      ++reads[d];
    }
    return inner_->ReadRaw(d, from);
  }
  Result<std::string> MarkBad(const Digest& d) override { return inner_->MarkBad(d); }
  std::string Describe(const Digest& d) const override { return inner_->Describe(d); }

 private:
  std::unique_ptr<ChunkAccess> inner_;
};

ByteBuffer Buffer(const std::string& data) {
  ByteBuffer b(data.size());
  std::memcpy(b.data(), data.data(), data.size());
  b.set_size(data.size());
  return b;
}

class ChunkPathTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ChunkStore::Create(Env::Default(), tmp_.path())); }

  testing::TempDir tmp_;
  ChunkStore store_{Env::Default(), tmp_.path(), SyncLevel::kNone};
  WatchedAccess access_{&store_};
};

TEST_F(ChunkPathTest, TheUploaderGivesDigestsInOrderAndStoresEachChunkOnce) {
  const std::string a = testing::RandomData(70000, 1), b = testing::RandomData(50000, 2);
  // Stored before: touched, not stored again.
  const std::string old = testing::RandomData(30000, 3);
  ASSERT_TRUE(store_.Insert(Sha256Of(AsBytes(old)), EncodeBlob(AsBytes(old), true)));
  ChunkUploader up(&access_, 2, /*compress=*/true);
  for (const std::string* c : {&a, &b, &a, &old, &b, &a}) ASSERT_TRUE(up.Add(Buffer(*c)));
  ASSERT_TRUE(up.Flush().has_value());
  const std::vector<Digest> expected = {Sha256Of(AsBytes(a)),   Sha256Of(AsBytes(b)),
                                        Sha256Of(AsBytes(a)),   Sha256Of(AsBytes(old)),
                                        Sha256Of(AsBytes(b)),   Sha256Of(AsBytes(a))};
  EXPECT_EQ(up.TakeDigests(), expected);
  EXPECT_TRUE(up.TakeDigests().empty()) << "handed back once";
  EXPECT_EQ(access_.inserted.size(), 2u) << "a and b, once each";
  EXPECT_EQ(up.stats().chunks, 6u);
  EXPECT_EQ(up.stats().bytes, 3 * a.size() + 2 * b.size() + old.size());
  EXPECT_EQ(up.stats().new_chunks, 2u);
  EXPECT_EQ(up.stats().new_bytes, a.size() + b.size());
  for (const std::string* c : {&a, &b}) {
    auto raw = store_.ReadRaw(Sha256Of(AsBytes(*c)));
    ASSERT_TRUE(raw.has_value());
    auto data = DecodeChunk(*raw, Sha256Of(AsBytes(*c)));
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(AsString(*data), *c);
  }
}

TEST_F(ChunkPathTest, TheUploadersFirstErrorIsKeptAndNothingFollowsIt) {
  const std::string bad = testing::RandomData(40000, 4);
  access_.fail.insert(Sha256Of(AsBytes(bad)));
  ChunkUploader up(&access_, 1, /*compress=*/false);
  ASSERT_TRUE(up.Add(Buffer(bad)));
  auto flushed = up.Flush();
  ASSERT_FALSE(flushed.has_value());
  EXPECT_NE(flushed.error().message().find(ToHex(Sha256Of(AsBytes(bad)))), std::string::npos)
      << flushed.error().message();
  EXPECT_FALSE(up.Add(Buffer(testing::RandomData(100, 5))).has_value());
  EXPECT_TRUE(access_.inserted.empty());
}

class ChunkStreamTest : public ChunkPathTest {
 protected:
  // Stores `data` as chunks of `piece` bytes; their references in order.
  std::vector<ChunkRef> Store(const std::string& data, size_t piece) {
    std::vector<ChunkRef> refs;
    for (size_t off = 0; off < data.size(); off += piece) {
      const std::string c = data.substr(off, piece);
      const Digest d = Sha256Of(AsBytes(c));
      EXPECT_TRUE(store_.Insert(d, EncodeBlob(AsBytes(c), true)).has_value());
      refs.push_back(ChunkRef{off, c.size(), d});
    }
    return refs;
  }

  static Result<std::string> ReadAll(ChunkStream& s) {
    std::string out;
    for (;;) {
      CV_ASSIGN_OR_RETURN(ByteView piece, s.Next());
      if (piece.empty()) return out;
      out += AsString(piece);
    }
  }
};

TEST_F(ChunkStreamTest, DeliversTheChunksInOrderWhateverTheReadAhead) {
  const std::string data = testing::RandomData(200000, 6);
  for (size_t jobs : {1, 3}) {
    ChunkStream s(&access_, Store(data, 7000), jobs);
    EXPECT_EQ(s.total_bytes(), data.size());
    auto all = ReadAll(s);
    ASSERT_TRUE(all.has_value()) << all.error().message();
    EXPECT_EQ(*all, data) << jobs << " jobs";
    EXPECT_EQ(s.bytes_delivered(), data.size());
  }
}

TEST_F(ChunkStreamTest, AChunkOfTheWrongSizeOrUnreadableEndsTheStreamNamingIt) {
  const std::string data = testing::RandomData(30000, 7);
  auto refs = Store(data, 10000);
  refs[1].size += 1;  // the index claims a byte more than the chunk holds
  ChunkStream s(&access_, refs, 2);
  ASSERT_TRUE(s.Next().has_value());
  auto second = s.Next();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(second.error().message().find(ToHex(refs[1].digest)), std::string::npos);
  auto after = s.Next();
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->empty()) << "finished after the error";

  auto good = Store(data, 10000);
  access_.fail.insert(good[2].digest);
  ChunkStream t(&access_, good, 2);
  auto r = ReadAll(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(ToHex(good[2].digest)), std::string::npos)
      << r.error().message();
  EXPECT_EQ(t.bytes_delivered(), 20000u);
}

// A chunk standing again a few chunks later (a payload index reusing it
// on both sides of a changed file) is read once; further away, again.
// The same digest with another size is no repeat: it fails as itself.
TEST_F(ChunkStreamTest, AChunkRepeatedCloseByIsReadOnce) {
  const std::string data = testing::RandomData(30000, 8);
  const std::vector<ChunkRef> three = Store(data, 10000);
  std::vector<ChunkRef> refs = {three[0], three[1], three[0]};
  for (size_t i = 0; i < ChunkStream::kRepeatWindow; ++i) refs.push_back(three[2]);
  refs.push_back(three[0]);
  std::string expected = data.substr(0, 20000) + data.substr(0, 10000);
  for (size_t i = 0; i < ChunkStream::kRepeatWindow; ++i) expected += data.substr(20000);
  expected += data.substr(0, 10000);
  ChunkStream s(&access_, refs, 2);
  auto all = ReadAll(s);
  ASSERT_TRUE(all.has_value()) << all.error().message();
  EXPECT_EQ(*all, expected);
  EXPECT_EQ(access_.reads[three[0].digest], 2);
  EXPECT_EQ(access_.reads[three[1].digest], 1);
  EXPECT_EQ(access_.reads[three[2].digest], 1);

  std::vector<ChunkRef> lying = {three[0], three[0]};
  lying[1].size += 1;
  ChunkStream t(&access_, lying, 2);
  auto r = ReadAll(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace chunkvault

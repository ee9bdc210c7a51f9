#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <random>

#include "chunker/chunk_assembler.h"
#include "chunker/chunker.h"

namespace chunkvault {
namespace {

// Cut offsets (ends of chunks) when `data` is fed in pieces of `step` bytes.
template <class Chunker>
std::vector<size_t> Cuts(Chunker c, const Bytes& data, size_t step) {
  std::vector<size_t> cuts;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t len = std::min(step, data.size() - pos);
    ByteView piece(data.data() + pos, len);
    size_t k;
    while ((k = c.Scan(piece)) != 0) {
      pos += k;
      cuts.push_back(pos);
      piece = piece.subspan(k);
    }
    pos += piece.size();
  }
  return cuts;
}

// The pattern of PBS's chunker tests: i as 4 little-endian bytes, 256 Ki times.
Bytes PbsTestPattern() {
  Bytes b;
  for (uint32_t i = 0; i < 256 * 1024; ++i)
    for (int j = 0; j < 4; ++j) b.push_back(uint8_t(i >> (8 * j)));
  return b;
}

Bytes Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

// The chunker as docs/format.md defines it, one byte at a time: the
// optimised Scan() (which skips bytes before min and reads outgoing bytes
// from its input) must find exactly these cuts.
std::vector<size_t> ReferenceCuts(const Bytes& data, size_t avg) {
  static constexpr uint32_t kTable[256] = {
#include "chunker/buzhash_table.inc"
  };
  const uint32_t mask = uint32_t(avg * 2 - 1), threshold = mask - 2;
  std::vector<size_t> cuts;
  size_t chunk_start = 0;
  uint32_t h = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const size_t size = i + 1 - chunk_start;
    h = std::rotl(h, 1) ^ kTable[data[i]];
    if (size > 64) h ^= kTable[data[i - 64]];  // rotated by 64: unchanged
    if (size >= avg * 4 || (size >= avg / 4 && (h & mask) >= threshold)) {
      cuts.push_back(i + 1);
      chunk_start = i + 1;
      h = 0;
    }
  }
  return cuts;
}

TEST(Buzhash, MatchesTheByteAtATimeDefinition) {
  Bytes mixed = Random(3 << 20, 3);
  std::fill(mixed.begin() + (1 << 20), mixed.begin() + (2 << 20) + 77, 0);  // max-size cuts
  for (const Bytes& data : {Random(2 << 20, 1), mixed, PbsTestPattern()}) {
    for (size_t avg : {size_t(64) << 10, size_t(256) << 10}) {
      const auto expected = ReferenceCuts(data, avg);
      ASSERT_FALSE(expected.empty());
      for (size_t step : {size_t(1), size_t(63), size_t(64), size_t(65), size_t(4097),
                          size_t(1) << 20, data.size()})
        EXPECT_EQ(Cuts(BuzhashChunker(avg), data, step), expected)
            << "average " << avg << ", pieces of " << step;
    }
  }
}

TEST(Buzhash, SpecVectorZeros) {
  Bytes zeros(1 << 20, 0);
  auto cuts = Cuts(BuzhashChunker(64 << 10), zeros, zeros.size());
  EXPECT_EQ(cuts, (std::vector<size_t>{262144, 524288, 786432, 1048576}));
}

TEST(Buzhash, FindsTheBoundaryPbsTestsRelyOn) {
  // PBS's suggested-boundary test names 405521 as a regular boundary of
  // this pattern with a 64 KiB average.
  auto cuts = Cuts(BuzhashChunker(64 << 10), PbsTestPattern(), 1 << 30);
  EXPECT_NE(std::find(cuts.begin(), cuts.end(), 405521u), cuts.end());
}

TEST(Buzhash, StatefulAcrossCalls) {
  for (const Bytes& data : {PbsTestPattern(), Random(3 << 20, 42)}) {
    auto whole = Cuts(BuzhashChunker(64 << 10), data, data.size());
    ASSERT_GE(whole.size(), 4u);  // the regular pattern cuts rarely
    EXPECT_EQ(Cuts(BuzhashChunker(64 << 10), data, 1), whole);
    EXPECT_EQ(Cuts(BuzhashChunker(64 << 10), data, 63), whole);
    EXPECT_EQ(Cuts(BuzhashChunker(64 << 10), data, 4097), whole);
  }
}

TEST(Buzhash, SizesStayWithinBounds) {
  const size_t avg = 64 << 10;
  Bytes data = Random(8 << 20, 7);
  auto cuts = Cuts(BuzhashChunker(avg), data, 1 << 20);
  size_t prev = 0;
  for (size_t c : cuts) {
    EXPECT_GE(c - prev, avg / 4);
    EXPECT_LE(c - prev, avg * 4);
    prev = c;
  }
  // On random data the mean lands near the average (fixed seed: no flakes).
  double mean = double(cuts.back()) / double(cuts.size());
  EXPECT_GT(mean, avg * 0.5);
  EXPECT_LT(mean, avg * 2.0);
}

TEST(Buzhash, BoundariesResynchroniseAfterAnInsertion) {
  Bytes data = Random(4 << 20, 9);
  auto before = Cuts(BuzhashChunker(64 << 10), data, data.size());
  Bytes shifted = data;
  shifted.insert(shifted.begin() + 1000, 0xaa);
  auto after = Cuts(BuzhashChunker(64 << 10), shifted, shifted.size());
  // Every cut after the first one must reappear one byte later.
  size_t same = 0;
  for (size_t c : before)
    if (std::find(after.begin(), after.end(), c + 1) != after.end()) ++same;
  EXPECT_GE(same, before.size() - 2);
}

TEST(FixedChunker, CutsEveryN) {
  Bytes data(10000, 1);
  EXPECT_EQ(Cuts(FixedChunker(4096), data, 1), (std::vector<size_t>{4096, 8192}));
  EXPECT_EQ(Cuts(FixedChunker(4096), data, 10000), (std::vector<size_t>{4096, 8192}));
}

// Feeds `data` to an assembler in pieces of `step` bytes, alternating
// between Write() and reading into Space() (as the tar writer does), and
// returns the chunks it emitted.
std::vector<Bytes> Assemble(const Bytes& data, size_t avg, size_t step) {
  std::vector<Bytes> chunks;
  ChunkAssembler a(avg, 2, [&](ByteBuffer c) -> Status {
    EXPECT_EQ(c.capacity(), avg * 4);  // the largest chunk: it never moves
    chunks.emplace_back(c.data(), c.data() + c.size());
    return {};
  });
  bool in_place = false;
  for (size_t pos = 0; pos < data.size(); in_place = !in_place) {
    size_t n = std::min(step, data.size() - pos);
    if (in_place) {
      std::span<uint8_t> room = a.Space();
      EXPECT_FALSE(room.empty());
      n = std::min(n, room.size());
      std::copy_n(data.begin() + long(pos), n, room.begin());
      EXPECT_TRUE(a.Commit(n).has_value());
    } else {
      EXPECT_TRUE(a.Write(ByteView(data.data() + pos, n)).has_value());
    }
    pos += n;
  }
  EXPECT_TRUE(a.Finish().has_value());
  EXPECT_EQ(a.offset(), data.size());
  return chunks;
}

TEST(ChunkAssembler, EmitsTheChunkersCutsWhateverThePieces) {
  Bytes data = Random(3 << 20, 5);
  std::fill(data.begin() + (1 << 20), data.begin() + (2 << 20), 0);  // max-size cuts
  const size_t avg = 64 << 10;
  const auto expected = ReferenceCuts(data, avg);
  ASSERT_GE(expected.size(), 10u);
  for (size_t step : {size_t(1000), size_t(64) << 10, size_t(300) << 10, data.size()}) {
    std::vector<Bytes> chunks = Assemble(data, avg, step);
    std::vector<size_t> ends;
    Bytes joined;
    for (const Bytes& c : chunks) {
      joined.insert(joined.end(), c.begin(), c.end());
      ends.push_back(joined.size());
    }
    // The last chunk ends the stream without a cut of its own.
    if (!expected.empty() && expected.back() != data.size()) ends.pop_back();
    EXPECT_EQ(ends, expected) << "pieces of " << step;
    EXPECT_EQ(joined, data) << "pieces of " << step;
  }
}

TEST(ChunkAssembler, AnEmitErrorStopsTheStream) {
  int emitted = 0;
  ChunkAssembler a(64 << 10, 2, [&](ByteBuffer) -> Status {
    ++emitted;
    return Fail(ErrorCode::kIo, "upload failed");
  });
  Bytes data = Random(1 << 20, 6);
  Status st = a.Write(data);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message(), "upload failed");
  EXPECT_EQ(emitted, 1);
}

TEST(ChunkAssembler, NothingToEmitForAnEmptyStream) {
  int emitted = 0;
  ChunkAssembler a(64 << 10, 2, [&](ByteBuffer) -> Status {
    ++emitted;
    return {};
  });
  EXPECT_TRUE(a.Finish().has_value());
  EXPECT_EQ(emitted, 0);
}

TEST(ChunkSize, UserLimits) {
  EXPECT_TRUE(CheckUserChunkSize(64 << 10).has_value());
  EXPECT_TRUE(CheckUserChunkSize(4 << 20).has_value());
  EXPECT_FALSE(CheckUserChunkSize(32 << 10).has_value());
  EXPECT_FALSE(CheckUserChunkSize(8 << 20).has_value());
  EXPECT_FALSE(CheckUserChunkSize(3 << 20).has_value());
}

}  // namespace
}  // namespace chunkvault

// Single-core throughput of SHA-256, zstd level 1, CRC-32 and the buzhash
// chunker, the work every backed-up byte goes through.
//
// Input for compression: real files concatenated up to 16 MiB, once text
// (/usr/include: source headers) and once binaries (/usr/lib: shared
// libraries), since zstd's speed depends on the data. Random bytes for the
// chunker and the hashes, whose speed does not.
//
//   build/release/bench/micro_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <cstring>
#include <random>

#include "chunker/chunker.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

constexpr size_t kCorpusSize = 16 << 20;
constexpr size_t kChunk = 4 << 20;

Bytes LoadCorpus(const char* dir) {
  Bytes out;
  std::error_code ec;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (out.size() >= kCorpusSize) break;
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out.insert(out.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (out.size() < kCorpusSize) {
    std::fprintf(stderr, "corpus %s has only %zu bytes\n", dir, out.size());
    std::exit(1);
  }
  out.resize(kCorpusSize);
  return out;
}

// state.range(0): 0 = text, 1 = binaries.
const Bytes& Corpus(int64_t which) {
  static const Bytes text = LoadCorpus("/usr/include");
  static const Bytes binary = LoadCorpus("/usr/lib/x86_64-linux-gnu");
  return which == 0 ? text : binary;
}

const Bytes& Random() {
  static const Bytes data = [] {
    std::mt19937_64 rng(42);
    Bytes b(kCorpusSize);
    for (size_t i = 0; i < b.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&b[i], &v, 8);
    }
    return b;
  }();
  return data;
}

void BM_Sha256(benchmark::State& state) {
  ByteView data(Random().data(), kChunk);
  for (auto _ : state) benchmark::DoNotOptimize(Sha256Of(data));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_Sha256);

void BM_Crc32(benchmark::State& state) {
  ByteView data(Random().data(), kChunk);
  for (auto _ : state) benchmark::DoNotOptimize(Crc32(data));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_Crc32);

// EncodeBlob = zstd level 1 + CRC-32, what a new chunk costs.
void BM_Zstd1Compress(benchmark::State& state) {
  ByteView data(Corpus(state.range(0)).data(), kChunk);
  size_t out = 0;
  for (auto _ : state) {
    Bytes blob = EncodeBlob(data, true);
    out = blob.size();
    benchmark::DoNotOptimize(blob.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
  state.counters["ratio"] = double(kChunk) / double(out);
}
BENCHMARK(BM_Zstd1Compress)->ArgName("binary")->Arg(0)->Arg(1);

// DecodeChunk = CRC-32 + zstd decompression + SHA-256, what a restored or
// verified chunk costs.
void BM_Zstd1DecompressAndCheck(benchmark::State& state) {
  ByteView data(Corpus(state.range(0)).data(), kChunk);
  const Bytes blob = EncodeBlob(data, true);
  const Digest digest = Sha256Of(data);
  for (auto _ : state) benchmark::DoNotOptimize(DecodeChunk(blob, digest)->data());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_Zstd1DecompressAndCheck)->ArgName("binary")->Arg(0)->Arg(1);

// Raw zstd level-1 decompression alone.
void BM_Zstd1Decompress(benchmark::State& state) {
  ByteView data(Corpus(state.range(0)).data(), kChunk);
  Bytes frame(ZSTD_compressBound(kChunk));
  frame.resize(ZSTD_compress(frame.data(), frame.size(), data.data(), data.size(), 1));
  Bytes out(kChunk);
  for (auto _ : state)
    benchmark::DoNotOptimize(ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size()));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_Zstd1Decompress)->ArgName("binary")->Arg(0)->Arg(1);

void BM_Buzhash(benchmark::State& state) {
  const Bytes& data = Random();
  for (auto _ : state) {
    BuzhashChunker chunker(size_t(state.range(0)));
    ByteView rest(data);
    size_t cuts = 0;
    while (!rest.empty()) {
      size_t k = chunker.Scan(rest);
      if (k == 0) break;
      rest = rest.subspan(k);
      ++cuts;
    }
    benchmark::DoNotOptimize(cuts);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(BM_Buzhash)->Arg(64 << 10)->Arg(4 << 20);

}  // namespace
}  // namespace chunkvault

BENCHMARK_MAIN();

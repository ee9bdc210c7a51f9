// Single-core throughput of SHA-256, zstd level 1, CRC-32 and the buzhash
// chunker, the work every backed-up byte goes through.
//
// Input for compression: real files concatenated up to 16 MiB, once text
// (/usr/include: source headers) and once binaries (/usr/lib: shared
// libraries), since zstd's speed depends on the data. Random bytes for the
// chunker and the hashes, whose speed does not.
//
// The BM_Part* and BM_Pipeline benchmarks measure the backup pipeline on
// one core: chunk -> SHA-256 -> zstd-1 -> blob (CRC-32 and header), each
// part alone and all of them chained, on the same data: a sample of the
// files under $CV_PIPELINE_CORPUS (default /usr/share), every k-th file in
// sorted order, about $CV_PIPELINE_SAMPLE_MIB (default 128) MiB: the whole
// tree when it is no larger. bench/pipeline.sh computes the bound the
// parts allow (1 / sum of 1/speed) and how close the chain comes to it.
// BM_SystemCall is the cost of a bare system call, which sets much of what
// a backup of many small files spends beside the pipeline.
//
//   build/release/bench/micro_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "chunker/chunker.h"
#include "chunkvault/blob.h"
#include "chunkvault/crypt.h"
#include "chunkvault/hash.h"
#include "util/byte_buffer.h"

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

// AES-256-GCM (OpenSSL EVP, AES-NI) on 1 MiB, as PBS's client benchmark
// measures it ("AES256/GCM speed", reference 3645 MB/s on a Ryzen 7 2700X).
const CryptKey& BenchKey() {
  static const CryptKey key{SecretKey(Bytes(kCryptKeySize, 5))};
  return key;
}

void BM_Aes256GcmEncrypt(benchmark::State& state) {
  ByteView data(Random().data(), 1 << 20);
  Bytes out(data.size());
  GcmIv iv{};
  GcmTag tag;
  for (auto _ : state) {
    BenchKey().Encrypt(data, iv, out.data(), &tag);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(BM_Aes256GcmEncrypt);

void BM_Aes256GcmDecrypt(benchmark::State& state) {
  ByteView data(Random().data(), 1 << 20);
  Bytes sealed(data.size()), out(data.size());
  GcmIv iv{};
  GcmTag tag;
  BenchKey().Encrypt(data, iv, sealed.data(), &tag);
  for (auto _ : state) {
    if (!BenchKey().Decrypt(sealed, iv, tag, out.data())) state.SkipWithError("GCM failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(BM_Aes256GcmDecrypt);

// An encrypted chunk's blob: zstd-1, AES-256-GCM, CRC-32 (and the keyed
// digest, one SHA-256 as for a plain chunk).
void BM_EncryptedBlob(benchmark::State& state) {
  ByteView data(Corpus(state.range(0)).data(), kChunk);
  BlobEncoder encoder;
  for (auto _ : state) {
    benchmark::DoNotOptimize(BenchKey().ChunkDigest(data));
    benchmark::DoNotOptimize(encoder.Encode(data, true, &BenchKey()).data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_EncryptedBlob)->ArgName("binary")->Arg(0)->Arg(1);

// And back: CRC, GCM, zstd, keyed digest (DecodeChunk with the key).
void BM_DecodeEncryptedChunk(benchmark::State& state) {
  ByteView data(Corpus(state.range(0)).data(), kChunk);
  const Bytes blob = EncodeBlob(data, true, &BenchKey());
  const Digest digest = BenchKey().ChunkDigest(data);
  for (auto _ : state) benchmark::DoNotOptimize(DecodeChunk(blob, digest, &BenchKey())->data());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kChunk));
}
BENCHMARK(BM_DecodeEncryptedChunk)->ArgName("binary")->Arg(0)->Arg(1);

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

// The cuts a new chunker finds in `data`, fed at once.
size_t CountCuts(ByteView data, size_t avg) {
  BuzhashChunker chunker(avg);
  size_t cuts = 0;
  while (!data.empty()) {
    size_t k = chunker.Scan(data);
    if (k == 0) break;
    data = data.subspan(k);
    ++cuts;
  }
  return cuts;
}

void BM_Buzhash(benchmark::State& state) {
  const Bytes& data = Random();
  for (auto _ : state) benchmark::DoNotOptimize(CountCuts(data, size_t(state.range(0))));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
}
BENCHMARK(BM_Buzhash)->Arg(64 << 10)->Arg(4 << 20);

// A bare system call, into the kernel and back: a backup of a cached tree
// makes about seven per regular file (open, stat, flistxattr, the flags
// ioctl, read-ahead, read, close), each costing this plus its own work.
// Unlike the pipeline's speeds it differs several-fold between machines
// (page-table isolation, the kind of virtualisation), and with it the
// share of a small-file backup's CPU that the pipeline gets.
void BM_SystemCall(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(::syscall(SYS_getppid));
}
BENCHMARK(BM_SystemCall);

// --- The backup pipeline on one core -------------------------------------

// Every k-th regular file under `dir` (sorted), k chosen for about
// `sample` bytes (every file when the tree is no larger), read one after
// the other into `out`, memory of the kind the backup's chunks are in. A
// hard-linked file counts once, at its first path, as a backup reads it.
void LoadSample(const std::string& dir, uint64_t sample, ByteBuffer& out) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && !e.is_symlink(ec)) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  std::vector<std::pair<std::string, uint64_t>> files;  // path, size
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = 0;
  for (std::string& path : paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !seen.emplace(st.st_dev, st.st_ino).second) continue;
    files.emplace_back(std::move(path), uint64_t(st.st_size));
    total += uint64_t(st.st_size);
  }
  const size_t stride = std::max<uint64_t>(1, total / sample);
  uint64_t bytes = 0;
  for (size_t i = 0; i < files.size(); i += stride) bytes += files[i].second;
  out = ByteBuffer(bytes);
  size_t size = 0;
  for (size_t i = 0; i < files.size(); i += stride) {
    std::ifstream in(files[i].first, std::ios::binary);
    // At most the size listed: a file that grew since is cut there.
    in.read(reinterpret_cast<char*>(out.data() + size), std::streamsize(files[i].second));
    size += size_t(in.gcount());
  }
  out.set_size(size);
  if (size < (16u << 20)) {
    std::fprintf(stderr, "pipeline corpus %s: only %zu bytes\n", dir.c_str(), size);
    std::exit(1);
  }
}

// Calls `f` with each chunk the 4 MiB-average chunker cuts from `data`,
// the unfinished last one included, as a backup stores them.
template <class F>
void ForEachChunk(ByteView data, F f) {
  BuzhashChunker chunker(kDefaultChunkSize);
  while (!data.empty()) {
    size_t k = chunker.Scan(data);
    if (k == 0) k = data.size();
    f(data.first(k));
    data = data.subspan(k);
  }
}

struct PipelineData {
  ByteBuffer memory;  // the kind of memory the backup's chunks are in
  ByteView corpus;
  std::vector<ByteView> chunks;  // as the 4 MiB-average chunker cuts it
  std::vector<Bytes> frames;     // each chunk's zstd-1 frame
};

const PipelineData& Pipeline() {
  static const PipelineData data = [] {
    PipelineData d;
    const char* dir = std::getenv("CV_PIPELINE_CORPUS");
    const char* mib = std::getenv("CV_PIPELINE_SAMPLE_MIB");
    LoadSample(dir != nullptr ? dir : "/usr/share",
               (mib != nullptr ? std::strtoull(mib, nullptr, 10) : 128) << 20, d.memory);
    d.corpus = d.memory.view();
    ForEachChunk(d.corpus, [&](ByteView c) { d.chunks.push_back(c); });
    for (ByteView c : d.chunks) {
      Bytes f(ZSTD_compressBound(c.size()));
      f.resize(ZSTD_compress(f.data(), f.size(), c.data(), c.size(), 1));
      d.frames.push_back(std::move(f));
    }
    return d;
  }();
  return data;
}

// Every part reports the corpus bytes it covered, so that their speeds
// add up as 1 / sum(1 / speed).
void SetCorpusBytes(benchmark::State& state) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(Pipeline().corpus.size()));
}

void BM_PartChunk(benchmark::State& state) {
  const PipelineData& d = Pipeline();
  for (auto _ : state) benchmark::DoNotOptimize(CountCuts(d.corpus, kDefaultChunkSize));
  SetCorpusBytes(state);
}
BENCHMARK(BM_PartChunk);

void BM_PartSha256(benchmark::State& state) {
  const PipelineData& d = Pipeline();
  for (auto _ : state)
    for (ByteView c : d.chunks) benchmark::DoNotOptimize(Sha256Of(c));
  SetCorpusBytes(state);
}
BENCHMARK(BM_PartSha256);

void BM_PartZstd1(benchmark::State& state) {
  const PipelineData& d = Pipeline();
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  Bytes out(ZSTD_compressBound(kMaxChunkSize));
  size_t compressed = 0;
  for (auto _ : state) {
    compressed = 0;
    for (ByteView c : d.chunks)
      compressed += ZSTD_compressCCtx(cctx, out.data(), out.size(), c.data(), c.size(), 1);
  }
  ZSTD_freeCCtx(cctx);
  SetCorpusBytes(state);
  state.counters["ratio"] = double(d.corpus.size()) / double(compressed);
}
BENCHMARK(BM_PartZstd1);

// The blob around a compressed chunk: CRC-32 of the payload, the header.
void BM_PartBlob(benchmark::State& state) {
  const PipelineData& d = Pipeline();
  for (auto _ : state)
    for (const Bytes& f : d.frames) benchmark::DoNotOptimize(Crc32(f));
  SetCorpusBytes(state);
}
BENCHMARK(BM_PartBlob);

// All four chained, as a backup's chunk work runs: cut, hash, encode.
void BM_Pipeline(benchmark::State& state) {
  const PipelineData& d = Pipeline();
  BlobEncoder encoder;  // as the backup's workers encode
  for (auto _ : state) {
    ForEachChunk(d.corpus, [&](ByteView chunk) {
      benchmark::DoNotOptimize(Sha256Of(chunk));
      benchmark::DoNotOptimize(encoder.Encode(chunk, true).data());
    });
  }
  SetCorpusBytes(state);
}
BENCHMARK(BM_Pipeline);

}  // namespace
}  // namespace chunkvault

BENCHMARK_MAIN();

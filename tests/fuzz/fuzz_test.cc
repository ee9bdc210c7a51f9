// Bounded mutation fuzzing of every parser of stored or received bytes:
// blobs, fixed and dynamic indexes, manifests, tar streams at restore
// (through the real extractor), S3's XML answers and the cache journal.
//
// Each parser gets a few thousand inputs made from valid ones by seeded
// mutations (so a failure reproduces), and each must end in success or an
// error with a message; a crash, hang, sanitizer report or an allocation
// above the bound below fails the suite, and a restore must leave nothing
// outside its target. docs/security.md lists what each case covers.
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "archive/pxar/decoder.h"
#include "archive/pxar/tree_writer.h"
#include "archive/stream_sink.h"
#include "archive/tar.h"
#include "backend/s3/s3_xml.h"
#include "cache/journal.h"
#include "cache/policy.h"
#include "chunker/chunk_assembler.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/key_file.h"
#include "chunkvault/manifest.h"
#include "fuzz/mutator.h"
#include "support/pxar_samples.h"
#include "support/tar_entries.h"
#include "support/tree_util.h"

// Any single allocation above this is a failure (ASan aborts): the
// readers bound what they allocate by what the format allows, and these
// inputs are small (the largest legal one is a 128 MiB blob).
extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=160:allocator_may_return_null=0";
}

namespace chunkvault {
namespace {

namespace fs = std::filesystem;

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A result's success or error, its value dropped.
template <class T>
Status Outcome(Result<T>&& r) {
  if (!r) return std::unexpected(std::move(r).error());
  return {};
}

// Makes a mutated input pass a check that would stop most of them at the
// door (a CRC, a tar header checksum), so that the code behind it is tried.
using Fixup = std::function<void(Bytes&)>;

// A blob's CRC-32 of everything after its 12-byte header.
void FixBlobCrc(Bytes& b) {
  if (b.size() < kBlobHeaderSize) return;
  const uint32_t crc = Crc32(ByteView(b).subspan(kBlobHeaderSize));
  for (int k = 0; k < 4; ++k) b[8 + k] = uint8_t(crc >> (8 * k));
}

// The checksum of every 512-byte block that still looks like a ustar header.
void FixTarChecksums(Bytes& b) {
  for (size_t at = 0; at + 512 <= b.size(); at += 512) {
    uint8_t* h = b.data() + at;
    if (std::memcmp(h + 257, "ustar", 5) != 0) continue;
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int k = 0; k < 512; ++k) sum += h[k];
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum & 0777777);
    h[155] = ' ';
  }
}

// Runs `cases` mutations of the seeds through `parse`, which returns the
// parser's Status; an error must say what is wrong. Three in four mutated
// inputs get `fixup`, if given.
void Fuzz(uint32_t seed, const std::vector<Bytes>& seeds, int cases,
          const std::function<Status(const Bytes&)>& parse, const Fixup& fixup = nullptr) {
  Mutator m(seed);
  int errors = 0;
  for (int i = 0; i < cases; ++i) {
    Bytes input = m.Mutate(seeds[m.Below(seeds.size())]);
    if (fixup && m.Below(4) != 0) fixup(input);
    Status st = parse(input);
    if (!st) {
      ++errors;
      ASSERT_FALSE(st.error().message().empty()) << "case " << i;
      ASSERT_NE(st.error().code(), ErrorCode::kInternal)
          << "case " << i << ": " << st.error().message();
    }
  }
  // The mutations reach the parsers' error paths, and enough of them get
  // past the first checks to reach what lies behind.
  EXPECT_GT(errors, cases / 10);
  EXPECT_GT(cases - errors, cases / 200);
}

TEST(Fuzz, Blobs) {
  const Bytes random = ToBytes(testing::RandomData(3000, 1));
  const Bytes text = ToBytes(std::string(50000, 'a') + testing::RandomData(100, 2));
  const std::vector<Bytes> seeds = {EncodeBlob(random, false), EncodeBlob(random, true),
                                    EncodeBlob(text, true), EncodeBlob({}, true)};
  const Digest digest = Sha256Of(text);
  Fuzz(
      11, seeds, 4000,
      [&](const Bytes& raw) -> Status {
        (void)InspectBlob(raw);
        (void)DecodeChunk(raw, digest);
        CV_ASSIGN_OR_RETURN(Bytes data, DecodeBlob(raw));
        if (data.size() > kMaxBlobSize) return Fail(ErrorCode::kInternal, "over the bound");
        return {};
      },
      FixBlobCrc);
}

// A blob's CRC, after a header of 44 bytes if its magic says encrypted.
void FixAnyBlobCrc(Bytes& b) {
  auto info = InspectBlob(b);
  if (!info) return FixBlobCrc(b);
  const uint32_t crc = Crc32(ByteView(b).subspan(info->header_size));
  for (int k = 0; k < 4; ++k) b[8 + k] = uint8_t(crc >> (8 * k));
}

// Mutated encrypted chunks: what a keyless holder checks (the CRC) passes
// often, but with the key nothing but the original data ever decodes.
TEST(Fuzz, EncryptedBlobs) {
  Bytes raw_key(kCryptKeySize, 7);
  const CryptKey key{SecretKey(raw_key)};
  const Bytes random = ToBytes(testing::RandomData(3000, 3));
  const Bytes text = ToBytes(std::string(50000, 'b') + testing::RandomData(100, 4));
  const std::vector<Bytes> seeds = {EncodeBlob(random, false, &key), EncodeBlob(text, true, &key),
                                    EncodeBlob({}, true, &key)};
  Fuzz(
      17, seeds, 3000,
      [&](const Bytes& raw) -> Status {
        for (const Bytes* original : {&random, &text}) {
          auto data = DecodeChunk(raw, key.ChunkDigest(*original), &key);
          if (data && *data != *original) return Fail(ErrorCode::kInternal, "forged data");
        }
        if (auto data = DecodeBlob(raw, kMaxBlobSize, &key);
            data && !data->empty() && *data != random && *data != text)
          return Fail(ErrorCode::kInternal, "forged blob");
        return Outcome(CheckStoredChunk(raw, key.ChunkDigest(text)));
      },
      FixAnyBlobCrc);
}

// Key files, as a hostile home directory or paper key could hold them:
// every field mutated, and what parses is opened (kdf costs bounded).
TEST(Fuzz, KeyFiles) {
  Bytes raw_key(kCryptKeySize, 9);
  const SecretKey secret(raw_key);
  std::vector<Bytes> seeds;
  for (Kdf kdf : {Kdf::kPbkdf2, Kdf::kNone}) {
    auto config = KeyConfig::Protect(secret, kdf, kdf == Kdf::kNone ? "" : "fuzz pass", 1700000000);
    ASSERT_TRUE(config);
    if (kdf == Kdf::kPbkdf2) config->kdf->iter = 100;  // cheap to open many times
    config->hint = "hint";
    seeds.push_back(ToBytes(config->ToJson()));
  }
  Fuzz(18, seeds, 2000, [&](const Bytes& raw) -> Status {
    CV_ASSIGN_OR_RETURN(KeyConfig config, KeyConfig::Parse(AsString(raw)));
    if (config.kdf && (config.kdf->kind != Kdf::kPbkdf2 || config.kdf->iter > 10000)) return {};
    auto key = config.Unlock("fuzz pass");
    if (key && !std::equal(raw_key.begin(), raw_key.end(), key->data()) && config.fingerprint)
      return Fail(ErrorCode::kInternal, "a key other than its fingerprint's");
    return Outcome(std::move(key));
  });
}

TEST(Fuzz, FixedIndexes) {
  FixedIndex idx;
  idx.size = 3 * 65536 + 100;
  idx.chunk_size = 65536;
  for (int i = 0; i < 4; ++i) idx.digests.push_back(Sha256Of(AsBytes(std::to_string(i))));
  const std::vector<Bytes> seeds = {idx.Encode()};
  Fuzz(12, seeds, 3000, [](const Bytes& raw) -> Status {
    for (bool check : {true, false}) {
      auto parsed = FixedIndex::Parse(raw, check);
      if (!parsed) return std::unexpected(parsed.error());
      uint64_t total = 0;
      for (const ChunkRef& c : parsed->Chunks()) total += c.size;
      if (total != parsed->size) return Fail(ErrorCode::kInternal, "spans do not add up");
    }
    return {};
  });
}

TEST(Fuzz, DynamicIndexes) {
  DynamicIndex idx;
  uint64_t end = 0;
  for (int i = 0; i < 6; ++i)
    idx.entries.push_back({end += 1000 + 37 * i, Sha256Of(AsBytes(std::to_string(i)))});
  const std::vector<Bytes> seeds = {idx.Encode(), DynamicIndex{}.Encode()};
  Fuzz(13, seeds, 3000, [](const Bytes& raw) -> Status {
    for (bool check : {true, false}) {
      auto parsed = DynamicIndex::Parse(raw, check);
      if (!parsed) return std::unexpected(parsed.error());
      uint64_t total = 0;
      for (const ChunkRef& c : parsed->Chunks()) total += c.size;
      if (total != parsed->size()) return Fail(ErrorCode::kInternal, "spans do not add up");
    }
    return {};
  });
}

// Byte mutations of the text and of its blob, and mutations of the JSON
// tree: any value replaced by one of another type.
TEST(Fuzz, Manifests) {
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "box";
  m.backup_time = 1700000000;
  for (const char* name : {"root.tar.didx", "disk.img.fidx", "notes.blob"})
    m.files.push_back({name, CryptMode::kNone, 1234, Sha256Of(AsBytes(name))});
  m.unprotected["notes"] = "n";
  m.unprotected["verify_state"] = {{"state", "ok"}, {"upid", "UPID:x"}};
  m.unprotected[kManifestExtKey]["file-sha256"]["root.tar.didx"] = std::string(64, 'a');
  const std::string text = m.ToJson();
  Fuzz(14, {ToBytes(text)}, 3000,
       [](const Bytes& raw) -> Status { return Outcome(Manifest::FromJson(AsString(raw))); });
  Fuzz(
      15, {m.EncodeBlob()}, 1500,
      [](const Bytes& raw) -> Status { return Outcome(Manifest::DecodeBlob(raw)); }, FixBlobCrc);

  const nlohmann::json doc = nlohmann::json::parse(text);
  std::mt19937 rng(16);
  const nlohmann::json others[] = {nullptr,
                                   7,
                                   -1,
                                   1.5,
                                   "text",
                                   true,
                                   nlohmann::json::array({1}),
                                   nlohmann::json::object({{"k", 1}}),
                                   18446744073709551615ull};
  int errors = 0;
  for (int i = 0; i < 3000; ++i) {
    nlohmann::json j = doc;
    // Walk to a random node and replace it.
    nlohmann::json* node = &j;
    while ((node->is_object() || node->is_array()) && !node->empty() && rng() % 3 != 0) {
      auto it = node->begin();
      std::advance(it, rng() % node->size());
      node = &*it;
    }
    *node = others[rng() % std::size(others)];
    auto parsed = Manifest::FromJson(j.dump());
    if (!parsed) {
      ++errors;
      ASSERT_FALSE(parsed.error().message().empty());
    }
  }
  EXPECT_GT(errors, 300);
}

// Restores of mutated streams, on two writer threads, into targets in a
// jail directory beside a canary: nothing may appear outside the targets.
TEST(Fuzz, TarStreamsAtRestore) {
  testing::TempDir tmp;
  const std::string jail = tmp / "jail", canary = tmp / "canary";
  fs::create_directories(jail);
  fs::create_directories(canary);
  testing::MakeSampleTree(tmp / "tree");
  Bytes sample;
  ASSERT_TRUE(WriteTar(
                  tmp / "tree",
                  [&](ByteView b) -> Status {
                    sample.insert(sample.end(), b.begin(), b.end());
                    return {};
                  },
                  nullptr)
                  .has_value());
  fs::remove_all(tmp / "tree");
  using testing::Dir, testing::File, testing::Hardlink, testing::Symlink;
  const std::vector<Bytes> seeds = {
      sample,
      testing::TarOfEntries({Dir("d"), File("d/f", "data"), Symlink("d/s", canary),
                             Hardlink("h", "d/f"), File("big", testing::RandomData(20000, 3))}),
      testing::TarOfEntries({File("m/f", "x"), Symlink("m", canary), File("m/g", "y")}),
      testing::TarOfEntries({Symlink("esc", "../../canary"), File("esc/x", "x")}),
  };
  Mutator m(17);
  int restored = 0;
  for (int i = 0; i < 1500; ++i) {
    Bytes input = m.Mutate(seeds[m.Below(seeds.size())]);
    if (m.Below(4) != 0) FixTarChecksums(input);
    const std::string target = jail + "/t";
    ExtractOptions opts;
    opts.jobs = 2;
    opts.overwrite = m.Below(4) == 0;
    auto r = testing::ExtractBytes(input, target, 1 + m.Below(8192), opts);
    if (!r) {
      ASSERT_FALSE(r.error().message().empty()) << "case " << i;
    } else {
      ++restored;
    }
    ASSERT_TRUE(fs::is_empty(canary)) << "case " << i << " wrote outside its target";
    for (const auto& e : fs::directory_iterator(jail))
      ASSERT_EQ(e.path().filename(), "t") << "case " << i << " wrote outside its target";
    // Restored modes may deny even the owner: open up, then remove.
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(target, ec))
      if (e.is_directory(ec) && !e.is_symlink(ec)) ::chmod(e.path().c_str(), 0700);
    ::chmod(target.c_str(), 0700);
    fs::remove_all(target, ec);
    ASSERT_FALSE(ec) << "case " << i << ": " << ec.message();
  }
  // Mutated streams that still restore: the extractor's paths were taken.
  EXPECT_GT(restored, 150);
}

// pxar archives, both streams mutated: every entry listed and every
// file's data read, through random-access and sequential inputs.
TEST(Fuzz, PxarArchives) {
  const auto [meta1, unused] = testing::SamplePxar(1);
  const auto [meta2, payload2] = testing::SamplePxar(2);
  const std::vector<Bytes> seeds = {meta1, meta2, payload2};
  auto decode = [](const Bytes& meta, const Bytes& payload, bool sequential) -> Status {
    pxar::MemoryInput in(meta), random(payload);
    bool given = false;
    pxar::SequentialInput seq([&]() -> Result<ByteView> {
      if (given) return ByteView();
      given = true;
      return ByteView(payload);
    });
    pxar::Decoder d(in, sequential ? static_cast<pxar::Input*>(&seq) : &random);
    for (;;) {
      CV_ASSIGN_OR_RETURN(std::optional<pxar::Entry> e, d.Next());
      if (!e) return {};
      if (e->kind != pxar::EntryKind::kFile) continue;
      uint64_t total = 0;
      for (;;) {
        CV_ASSIGN_OR_RETURN(ByteView piece, d.ReadFileData(1000));
        if (piece.empty()) break;
        total += piece.size();
      }
      if (total != e->size) return Fail(ErrorCode::kInternal, "file data of the wrong size");
    }
  };
  Fuzz(21, seeds, 4000, [&](const Bytes& raw) -> Status {
    // The mutated stream in the role its seed had: a payload stream
    // mutated (starts with its marker) goes with the intact metadata.
    const bool is_payload = raw.size() >= 8 && LoadLe64(raw.data()) == pxar::kPayloadStartMarker;
    const Bytes& meta = is_payload ? meta2 : raw;
    const Bytes& payload = is_payload ? raw : payload2;
    Status random = decode(meta, payload, false);
    Status sequential = decode(meta, payload, true);
    // One pass is stricter (refs must not go back), never more lenient.
    if (!random.has_value() && sequential.has_value())
      return Fail(ErrorCode::kInternal, "a sequential read passed what a random one refused");
    return random;
  });
}

// Metadata change detection against a mutated previous metadata archive
// (its payload index intact): the backup of the tree succeeds, a previous
// archive that fails to read being a warning, and what it writes is
// decoded whole or refused with a message. A hostile archive can only
// make refs point at other bytes of its own chunks, which the decoder's
// checks of refs against PAYLOAD headers catch where they do not fit.
TEST(Fuzz, PreviousArchivesOfChangeDetection) {
  testing::TempDir tmp;
  const std::string root = tmp / "t";
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) {
    const std::string dir = root + "/d" + std::to_string(i % 4);
    fs::create_directories(dir);
    testing::WriteFile(dir + "/f" + std::to_string(i), testing::RandomData(500 + rng() % 9000, i));
  }
  fs::create_symlink("d0/f0", root + "/link");
  fs::create_hard_link(root + "/d1/f1", root + "/d2/hard");
  struct Written {
    Bytes meta;
    std::vector<uint64_t> ends;
    std::vector<Digest> digests;
    TarStats stats;
  };
  std::map<Digest, Bytes> chunks;
  // Backs the tree up, against `previous` metadata with `index`'s payload.
  auto backup = [&](const Bytes* previous, const Written* index) -> Result<Written> {
    Written w;
    testing::MemorySink meta;
    ChunkAssembler assembler(16 << 10, 4, [&](ByteBuffer chunk) -> Status {
      const Digest d = Sha256Of(chunk.view());
      chunks[d] = Bytes(chunk.view().begin(), chunk.view().end());
      w.ends.push_back((w.ends.empty() ? 0 : w.ends.back()) + chunk.size());
      w.digests.push_back(d);
      return {};
    });
    StreamSinkOf<ChunkAssembler> payload(assembler, [&](const ReusedChunk& c) -> Status {
      w.ends.push_back((w.ends.empty() ? 0 : w.ends.back()) + c.size);
      w.digests.push_back(c.digest);
      return {};
    });
    static const Bytes kNone;
    pxar::MemoryInput prev_meta(previous ? *previous : kNone);
    pxar::PreviousArchive prev;
    pxar::TreeWriteOptions options;
    if (previous) {
      prev.meta = &prev_meta;
      prev.meta_size = previous->size();
      prev.payload_ends = index->ends;
      prev.payload_digests = index->digests;
      options.previous = &prev;
    }
    CV_ASSIGN_OR_RETURN(w.stats, pxar::WriteTree(root, options, meta, &payload, nullptr));
    CV_RETURN_IF_ERROR(assembler.Finish());
    w.meta = std::move(meta.out);
    return w;
  };
  auto first = backup(nullptr, nullptr);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  Mutator m(29);
  int reused = 0, decoded = 0;
  const int cases = 1500;
  for (int i = 0; i < cases; ++i) {
    const Bytes mutated = m.Mutate(first->meta);
    auto second = backup(&mutated, &*first);
    ASSERT_TRUE(second.has_value()) << "case " << i << ": " << second.error().message();
    if (second->stats.reuse.files_reused > 0) ++reused;
    Bytes payload;
    for (const Digest& d : second->digests)
      payload.insert(payload.end(), chunks[d].begin(), chunks[d].end());
    pxar::MemoryInput meta_in(second->meta), payload_in(payload);
    pxar::Decoder decoder(meta_in, &payload_in);
    Status st = [&]() -> Status {
      for (;;) {
        CV_ASSIGN_OR_RETURN(std::optional<pxar::Entry> e, decoder.Next());
        if (!e) return {};
        if (e->kind != pxar::EntryKind::kFile) continue;
        for (;;) {
          CV_ASSIGN_OR_RETURN(ByteView piece, decoder.ReadFileData(4096));
          if (piece.empty()) break;
        }
      }
    }();
    if (st) {
      ++decoded;
    } else {
      ASSERT_FALSE(st.error().message().empty()) << "case " << i;
    }
  }
  // Enough mutations leave files reusable (most make the archive fail
  // its checks: every file read); nearly every archive written decodes.
  EXPECT_GT(reused, cases / 10) << decoded;
  EXPECT_GT(decoded, cases * 9 / 10) << reused;
}

TEST(Fuzz, S3XmlAnswers) {
  const std::vector<Bytes> seeds = {
      ToBytes("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce"
              "</Message><RequestId>tx1</RequestId></Error>"),
      ToBytes("<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
              "<NextContinuationToken>tok</NextContinuationToken>"
              "<Contents><Key>p/a%2Bb</Key><Size>4</Size></Contents>"
              "<Contents><Key>p/c</Key><Size>18446744073709551615</Size></Contents>"
              "</ListBucketResult>"),
      ToBytes("<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied"
              "</Code><Message>no</Message></Error></DeleteResult>"),
  };
  Fuzz(18, seeds, 4000, [](const Bytes& raw) -> Status {
    (void)ParseS3Error(raw);
    (void)XmlRootName(raw);
    (void)ParseDeleteResult(raw);
    return Outcome(ParseListObjectsV2(raw));
  });
}

// A journal and checkpoint the real code wrote, mutated, then recovered.
TEST(Fuzz, CacheJournals) {
  testing::TempDir tmp;
  const std::string dir = tmp / "cache";
  {
    auto opened = CacheJournal::Open(dir);
    ASSERT_TRUE(opened.has_value());
    auto& journal = opened->first;
    std::vector<CachePolicy::Entry> entries;
    for (int i = 0; i < 5; ++i) {
      CachePolicy::Entry e;
      e.digest = Sha256Of(AsBytes(std::to_string(i)));
      e.size = 1000 + i;
      entries.push_back(e);
    }
    ASSERT_TRUE(journal->Checkpoint("s3fifo", entries).has_value());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(
          journal->Append({JournalRecord::kInsert, Sha256Of(AsBytes("j" + std::to_string(i))), 7})
              .has_value());
  }
  const Bytes state = ToBytes(testing::ReadFile(dir + "/state"));
  const Bytes journal = ToBytes(testing::ReadFile(dir + "/journal"));
  Mutator m(19);
  // The state's CRC (its last 4 bytes) and every 48-byte record's.
  auto fix = [](Bytes& b, size_t header, bool trailer) {
    const size_t end = trailer && b.size() >= 4 ? b.size() - 4 : b.size();
    for (size_t at = header; at + kJournalRecordSize <= end; at += kJournalRecordSize) {
      const uint32_t crc = Crc32(ByteView(b).subspan(at, 44));
      for (int k = 0; k < 4; ++k) b[at + 44 + k] = uint8_t(crc >> (8 * k));
    }
    if (trailer && b.size() >= 4) {
      const uint32_t crc = Crc32(ByteView(b).subspan(0, b.size() - 4));
      for (int k = 0; k < 4; ++k) b[b.size() - 4 + k] = uint8_t(crc >> (8 * k));
    }
  };
  int unusable = 0;
  for (int i = 0; i < 1500; ++i) {
    const bool both = m.Below(3) == 0, state_only = m.Below(2) == 0;
    Bytes s = both || state_only ? m.Mutate(state) : state;
    Bytes j = both || !state_only ? m.Mutate(journal) : journal;
    if (m.Below(4) != 0) fix(s, 40, true), fix(j, 16, false);
    testing::WriteFile(dir + "/state", std::string(AsString(s)));
    testing::WriteFile(dir + "/journal", std::string(AsString(j)));
    auto opened = CacheJournal::Open(dir);
    if (!opened) {
      ASSERT_FALSE(opened.error().message().empty());
      continue;
    }
    const auto& rec = opened->second;
    if (!rec.usable) ++unusable;
    // What is recovered never exceeds what the files hold, and the
    // policies take it as the cache would, then empty out.
    ASSERT_LE(rec.entries.size() * kJournalRecordSize, s.size());
    for (const char* name : {"s3fifo", "lru"}) {
      auto policy = NewCachePolicy(name, 0);
      ASSERT_TRUE(policy.has_value());
      (*policy)->Load(rec.entries);
      for (const JournalRecord& r : rec.records) {
        if (r.type != JournalRecord::kInsert)
          (*policy)->Erase(r.digest);
        else if (!(*policy)->Contains(r.digest))
          (*policy)->Insert(r.digest, r.size);
      }
      size_t evicted = 0;
      while ((*policy)->Evict())
        ASSERT_LE(++evicted, 2 * (rec.entries.size() + rec.records.size()));
      EXPECT_EQ((*policy)->count(), 0u) << name;
      EXPECT_EQ((*policy)->bytes(), 0u) << name;
    }
  }
  EXPECT_GT(unusable, 100);
}

}  // namespace
}  // namespace chunkvault

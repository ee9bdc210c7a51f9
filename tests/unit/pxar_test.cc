// The pxar format layer: type codes, goodbye tables, the encoder against
// archives PBS wrote (tests/data/README.md), the decoder's checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <openssl/evp.h>

#include <fstream>
#include <map>
#include <random>

#include "archive/pxar/accessor.h"
#include "archive/pxar/catalog.h"
#include "archive/pxar/decoder.h"
#include "archive/pxar/encoder.h"
#include "archive/pxar/goodbye.h"
#include "chunker/chunk_assembler.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "support/pxar_samples.h"

namespace chunkvault::pxar {
namespace {

using testing::kSamplePrelude;
using testing::MemorySink;
using testing::PxarMeta;
using testing::SamplePxar;

Bytes ReadData(const std::string& name) {
  std::ifstream in(std::string(CV_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string S(ByteView b) { return std::string(AsString(b)); }

struct Decoded {
  std::vector<Entry> entries;
  std::map<std::string, Bytes> data;  // file path -> contents
};

// `sequential`: the payload read in one pass, as a restore streams it.
Result<Decoded> DecodeAll(ByteView meta, const Bytes* payload, bool sequential = false) {
  MemoryInput in(meta);
  std::optional<MemoryInput> pin;
  bool given = false;
  std::optional<SequentialInput> seq;
  if (payload && sequential) {
    seq.emplace([&]() -> Result<ByteView> {
      if (given) return ByteView();
      given = true;
      return ByteView(*payload);
    });
  } else if (payload) {
    pin.emplace(*payload);
  }
  Decoder d(in, seq ? static_cast<Input*>(&*seq) : pin ? &*pin : nullptr);
  Decoded out;
  for (;;) {
    CV_ASSIGN_OR_RETURN(std::optional<Entry> e, d.Next());
    if (!e) break;
    if (e->kind == EntryKind::kFile && (payload || !e->payload_ref)) {
      Bytes& data = out.data[S(e->path)];
      for (;;) {
        CV_ASSIGN_OR_RETURN(ByteView piece, d.ReadFileData(5000));
        if (piece.empty()) break;
        data.insert(data.end(), piece.begin(), piece.end());
      }
    }
    out.entries.push_back(std::move(*e));
  }
  return out;
}

// Encodes decoded entries again, the same way (fresh file data where the
// contents are known, else the old payload refs).
Result<std::pair<Bytes, Bytes>> Encode(const Decoded& d, int version,
                                       std::optional<Bytes> prelude = std::nullopt) {
  MemorySink meta, payload;
  Encoder enc(meta, version == 2 ? &payload : nullptr);
  std::map<std::string, uint64_t> files;
  for (const Entry& e : d.entries) {
    switch (e.kind) {
      case EntryKind::kDirectory:
        if (e.path.empty())
          CV_RETURN_IF_ERROR(enc.Begin(e.metadata, prelude));
        else
          CV_RETURN_IF_ERROR(enc.BeginDirectory(e.name(), e.metadata));
        break;
      case EntryKind::kDirectoryEnd:
        CV_RETURN_IF_ERROR(e.path.empty() ? enc.Finish() : enc.EndDirectory());
        break;
      case EntryKind::kFile: {
        auto data = d.data.find(S(e.path));
        uint64_t at;
        if (data == d.data.end()) {
          CV_ASSIGN_OR_RETURN(at, enc.AddPayloadRef(e.name(), e.metadata, *e.payload_ref));
        } else {
          CV_ASSIGN_OR_RETURN(at, enc.BeginFile(e.name(), e.metadata, data->second.size()));
          CV_RETURN_IF_ERROR(enc.WriteFileData(data->second));
          CV_RETURN_IF_ERROR(enc.EndFile());
        }
        files[S(e.path)] = at;
        break;
      }
      case EntryKind::kSymlink:
        CV_RETURN_IF_ERROR(enc.AddSymlink(e.name(), e.metadata, e.link_target));
        break;
      case EntryKind::kDevice:
        CV_RETURN_IF_ERROR(enc.AddDevice(e.name(), e.metadata, e.device_major, e.device_minor));
        break;
      case EntryKind::kFifo:
      case EntryKind::kSocket:
        CV_RETURN_IF_ERROR(enc.AddSpecial(e.name(), e.metadata));
        break;
      case EntryKind::kHardlink:
        CV_RETURN_IF_ERROR(enc.AddHardlink(e.name(), e.link_target, files.at(S(e.link_target))));
        break;
    }
  }
  return std::pair(std::move(meta.out), std::move(payload.out));
}

// The tree behind PBS's vectors: folder_0..9/file_0..9, mode 0777,
// uid/gid 1000, mtime 0, 1 MiB of zeros each.
constexpr uint64_t kMiB = 1 << 20;
const Metadata kDir = PxarMeta(kModeDir | 0777), kFile = PxarMeta(kModeReg | 0777);

TEST(Pxar, TypeCodesAreTheHashesOfTheirNames) {
  const std::pair<uint64_t, const char*> codes[] = {
      {kFormatVersion, "__PROXMOX_FORMAT_VERSION__"},
      {kEntry, "__PROXMOX_FORMAT_ENTRY_V2__"},
      {kEntryV1, "__PROXMOX_FORMAT_ENTRY__"},
      {kPrelude, "__PROXMOX_FORMAT_PRELUDE__"},
      {kFilename, "__PROXMOX_FORMAT_FILENAME__"},
      {kSymlink, "__PROXMOX_FORMAT_SYMLINK__"},
      {kDevice, "__PROXMOX_FORMAT_DEVICE__"},
      {kXattr, "__PROXMOX_FORMAT_XATTR__"},
      {kAclUser, "__PROXMOX_FORMAT_ACL_USER__"},
      {kAclGroup, "__PROXMOX_FORMAT_ACL_GROUP__"},
      {kAclGroupObj, "__PROXMOX_FORMAT_ACL_GROUP_OBJ__"},
      {kAclDefault, "__PROXMOX_FORMAT_ACL_DEFAULT__"},
      {kAclDefaultUser, "__PROXMOX_FORMAT_ACL_DEFAULT_USER__"},
      {kAclDefaultGroup, "__PROXMOX_FORMAT_ACL_DEFAULT_GROUP__"},
      {kFcaps, "__PROXMOX_FORMAT_FCAPS__"},
      {kQuotaProjid, "__PROXMOX_FORMAT_QUOTA_PROJID__"},
      {kHardlink, "__PROXMOX_FORMAT_HARDLINK__"},
      {kPayload, "__PROXMOX_FORMAT_PXAR_PAYLOAD__"},
      {kPayloadRef, "__PROXMOX_FORMAT_PXAR_PAYLOAD_REF__"},
      {kGoodbye, "__PROXMOX_FORMAT_GOODBYE__"},
      {kGoodbyeTailMarker, "__PROXMOX_FORMAT_PXAR_GOODBYE_TAIL_MARKER__"},
      {kPayloadStartMarker, "__PROXMOX_FORMAT_PXAR_PAYLOAD_START_MARKER__"},
      {kPayloadTailMarker, "__PROXMOX_FORMAT_PXAR_PAYLOAD_TAIL_MARKER__"},
  };
  for (const auto& [code, name] : codes) EXPECT_EQ(HashFilename(AsBytes(name)), code) << name;
}

TEST(Pxar, HashKeyIsTheSha1OfTheFormatsName) {
  uint8_t md[20];
  const std::string_view s = "PROXMOX ARCHIVE FORMAT";
  ASSERT_EQ(EVP_Digest(s.data(), s.size(), md, nullptr, EVP_sha1(), nullptr), 1);
  uint64_t k1 = 0, k2 = 0;
  for (int i = 0; i < 8; ++i) k1 = k1 << 8 | md[i];
  for (int i = 8; i < 16; ++i) k2 = k2 << 8 | md[i];
  EXPECT_EQ(k1, kHashKey1);
  EXPECT_EQ(k2, kHashKey2);
}

TEST(Pxar, FileNamesAreChecked) {
  EXPECT_TRUE(CheckFilename(AsBytes("a")).has_value());
  EXPECT_TRUE(CheckFilename(AsBytes("\xff\xfe.txt")).has_value());  // not UTF-8: fine
  EXPECT_TRUE(CheckFilename(Bytes(4096, 'x')).has_value());
  EXPECT_FALSE(CheckFilename(Bytes(4097, 'x')).has_value());
  using namespace std::string_view_literals;
  for (std::string_view bad : {""sv, "."sv, ".."sv, "a/b"sv, "a\0b"sv})
    EXPECT_FALSE(CheckFilename(AsBytes(bad)).has_value()) << bad;
}

TEST(PxarGoodbye, TreeOrderIsPbss) {
  EXPECT_EQ(TreeOrder(5), (std::vector<size_t>{3, 1, 4, 0, 2}));
  EXPECT_EQ(TreeOrder(8), (std::vector<size_t>{4, 2, 6, 1, 3, 5, 7, 0}));
  EXPECT_EQ(TreeOrder(17),
            (std::vector<size_t>{9, 5, 13, 3, 7, 11, 15, 1, 4, 6, 8, 10, 12, 14, 16, 0, 2}));
  EXPECT_TRUE(TreeOrder(0).empty());
  EXPECT_EQ(TreeOrder(1), (std::vector<size_t>{0}));
}

TEST(PxarGoodbye, EveryNameIsFoundByWalkingTheTree) {
  for (size_t n : {1, 2, 3, 7, 100, 1000}) {
    std::vector<GoodbyeItem> items;
    for (size_t i = 0; i < n; ++i)
      items.push_back({HashFilename(AsBytes("f" + std::to_string(i))), i * 100, 10});
    const uint64_t goodbye = n * 100 + 50;
    auto table = ParseGoodbye(EncodeGoodbye(items, goodbye, 0));
    ASSERT_TRUE(table.has_value());
    ASSERT_EQ(table->size(), n + 1);
    EXPECT_EQ(table->back().hash, kGoodbyeTailMarker);
    EXPECT_EQ(table->back().size, kHeaderSize + (n + 1) * kGoodbyeItemSize);
    // A binary search tree: left below, right above.
    for (size_t i = 0; i < n; ++i) {
      if (2 * i + 1 < n) {
        EXPECT_LT((*table)[2 * i + 1].hash, (*table)[i].hash);
      }
      if (2 * i + 2 < n) {
        EXPECT_GT((*table)[2 * i + 2].hash, (*table)[i].hash);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      auto found = FindInGoodbye(*table, items[i].hash);
      ASSERT_EQ(found.size(), 1u);
      EXPECT_EQ(goodbye - (*table)[found[0]].offset, i * 100);
    }
    EXPECT_TRUE(FindInGoodbye(*table, HashFilename(AsBytes("absent"))).empty());
  }
}

TEST(PxarGoodbye, EqualHashesAreAllFound) {
  std::vector<GoodbyeItem> items = {{5, 0, 1}, {5, 10, 1}, {3, 20, 1}, {5, 30, 1}, {9, 40, 1}};
  auto table = ParseGoodbye(EncodeGoodbye(items, 100, 0));
  ASSERT_TRUE(table.has_value());
  EXPECT_EQ(FindInGoodbye(*table, 5).size(), 3u);
  EXPECT_EQ(FindInGoodbye(*table, 3).size(), 1u);
  EXPECT_FALSE(ParseGoodbye(Bytes(25)).has_value());
}

// The PBS vector's tree, encoded as a split archive into `payload`; the
// file data goes in place (FileSpace), as the tree encoder reads files.
Bytes EncodePbsTree(StreamSink& payload) {
  MemorySink meta;
  Encoder enc(meta, &payload);
  EXPECT_TRUE(enc.Begin(kDir).has_value());
  for (int d = 0; d < 10; ++d) {
    EXPECT_TRUE(enc.BeginDirectory(AsBytes("folder_" + std::to_string(d)), kDir).has_value());
    for (int f = 0; f < 10; ++f) {
      EXPECT_TRUE(enc.BeginFile(AsBytes("file_" + std::to_string(f)), kFile, kMiB).has_value());
      for (std::span<uint8_t> room; !(room = enc.FileSpace()).empty();) {
        std::fill(room.begin(), room.end(), 0);
        EXPECT_TRUE(enc.CommitFileData(room.size()).has_value());
      }
      EXPECT_TRUE(enc.EndFile().has_value());
    }
    EXPECT_TRUE(enc.EndDirectory().has_value());
  }
  EXPECT_TRUE(enc.Finish().has_value());
  return std::move(meta.out);
}

TEST(PxarPbsVectors, TheMetadataArchiveIsWrittenByteForByte) {
  MemorySink payload;
  EXPECT_EQ(EncodePbsTree(payload), ReadData("backup-client-pxar-data.mpxar"));
  // The payload stream: start marker, per file a header and the data, tail.
  EXPECT_EQ(payload.out.size(), 16 + 100 * (16 + kMiB) + 16);
  EXPECT_EQ(LoadLe64(payload.out.data()), kPayloadStartMarker);
  EXPECT_EQ(LoadLe64(payload.out.data() + payload.out.size() - 16), kPayloadTailMarker);
  // A cut is suggested before each file's PAYLOAD header.
  ASSERT_EQ(payload.cuts.size(), 100u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(payload.cuts[i], 16 + i * (16 + kMiB));
}

TEST(PxarPbsVectors, ThePayloadStreamCutsToPbssChunks) {
  auto raw = DynamicIndex::Parse(ReadData("backup-client-pxar-data.ppxar.didx"));
  ASSERT_TRUE(raw.has_value()) << raw.error().message();
  // The stream into the chunk assembler as a backup feeds it: PBS's
  // payload chunker cuts at the suggested file starts.
  std::vector<DynamicEntry> got;
  uint64_t end = 0;
  ChunkAssembler assembler(4 * kMiB, 4, [&](ByteBuffer chunk) -> Status {
    end += chunk.size();
    got.push_back({end, Sha256Of(ByteView(chunk.data(), chunk.size()))});
    return {};
  });
  StreamSinkOf<ChunkAssembler> payload(assembler);
  EncodePbsTree(payload);
  ASSERT_TRUE(assembler.Finish().has_value());
  ASSERT_EQ(got.size(), raw->entries.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].end, raw->entries[i].end) << i;
    EXPECT_EQ(got[i].digest, raw->entries[i].digest) << i;
  }
}

TEST(PxarPbsVectors, BothMetadataArchivesAreListed) {
  for (const char* name : {"backup-client-pxar-data.mpxar", "backup-client-pxar-expected.mpxar"}) {
    const bool reused = std::string_view(name).find("expected") != std::string_view::npos;
    const Bytes raw = ReadData(name);
    auto d = DecodeAll(raw, nullptr);
    ASSERT_TRUE(d.has_value()) << name << ": " << d.error().message();
    std::vector<std::string> paths;
    size_t files = 0, dirs = 0;
    for (const Entry& e : d->entries) {
      if (e.kind == EntryKind::kDirectoryEnd) continue;
      EXPECT_EQ(e.metadata.stat.mode & 07777, 0777u);
      EXPECT_EQ(e.metadata.stat.uid, 1000u);
      EXPECT_EQ(e.metadata.stat.gid, 1000u);
      EXPECT_EQ(e.metadata.stat.mtime_secs, 0);
      if (e.kind == EntryKind::kFile) {
        ASSERT_TRUE(e.payload_ref.has_value());
        EXPECT_EQ(e.size, kMiB);
        // Contiguous from the first byte after the start marker; each one
        // moved on by a new start marker when reused.
        EXPECT_EQ(e.payload_ref->offset, (reused ? 32 : 16) + files * (16 + kMiB));
        ++files;
      } else {
        ASSERT_EQ(e.kind, EntryKind::kDirectory);
        ++dirs;
      }
      paths.push_back(S(e.path));
    }
    EXPECT_EQ(files, 100u);
    EXPECT_EQ(dirs, 11u);
    EXPECT_EQ(paths[1], "folder_0");
    EXPECT_EQ(paths[2], "folder_0/file_0");
    EXPECT_EQ(paths.back(), "folder_9/file_9");
  }
}

TEST(PxarPbsVectors, TheReusingArchiveIsWrittenByteForByte) {
  // What PBS's client writes for the tree unchanged: the data archive's
  // entries as refs into a payload stream that starts with a new marker
  // and then holds the old stream's chunks whole.
  auto old = DecodeAll(ReadData("backup-client-pxar-data.mpxar"), nullptr);
  ASSERT_TRUE(old.has_value());
  MemorySink meta, payload;
  Encoder enc(meta, &payload);
  for (const Entry& e : old->entries) {
    Status s;
    switch (e.kind) {
      case EntryKind::kDirectory:
        s = e.path.empty() ? enc.Begin(e.metadata, Bytes{})
                           : enc.BeginDirectory(e.name(), e.metadata);
        break;
      case EntryKind::kDirectoryEnd:
        s = e.path.empty() ? Status() : enc.EndDirectory();
        break;
      case EntryKind::kFile: {
        PayloadRef ref = *e.payload_ref;
        ref.offset += 16;
        auto r = enc.AddPayloadRef(e.name(), e.metadata, ref);
        ASSERT_TRUE(r.has_value()) << r.error().message();
        break;
      }
      default:
        FAIL();
    }
    ASSERT_TRUE(s.has_value()) << s.error().message();
  }
  enc.AdvancePayload(104859232);  // the old chunks, injected by digest
  ASSERT_TRUE(enc.Finish().has_value());
  EXPECT_EQ(meta.out, ReadData("backup-client-pxar-expected.mpxar"));
  EXPECT_EQ(enc.payload_position(), 16 + 104859232 + 16u);
}

TEST(Pxar, EveryKindRoundTripsByteForByte) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    auto [meta, payload] = SamplePxar(version);
    auto d = DecodeAll(meta, version == 2 ? &payload : nullptr);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    std::vector<std::string> paths;
    for (const Entry& e : d->entries)
      if (e.kind != EntryKind::kDirectoryEnd) paths.push_back(S(e.path));
    const std::string long_name = "g-dir/\xff\x01weird/" + std::string(4096, 'n');
    EXPECT_EQ(paths,
              (std::vector<std::string>{"", "a-empty", "b-file", "c-link", "d-null", "e-fifo",
                                        "f-socket", "g-dir", "g-dir/link", "g-dir/\xff\x01weird",
                                        long_name, "g-dir/h-empty-dir", "i-link"}));
    const Entry& file = d->entries[2];
    EXPECT_EQ(file.metadata.stat.mtime_secs, -5);
    EXPECT_EQ(file.metadata.stat.mtime_nanos, 999999999u);
    EXPECT_EQ(file.metadata.xattrs.size(), 2u);
    EXPECT_EQ(file.metadata.acl.group_obj, 4u);
    EXPECT_EQ(file.metadata.quota_project_id, 42u);
    EXPECT_EQ(d->data["b-file"], Bytes(3000, 'x'));
    EXPECT_EQ(d->data[long_name], B("long name"));
    EXPECT_EQ(d->data["a-empty"], Bytes{});
    EXPECT_EQ(d->entries[3].kind, EntryKind::kHardlink);
    EXPECT_EQ(S(d->entries[3].link_target), "b-file");
    EXPECT_EQ(d->entries[4].device_minor, 3u);
    EXPECT_EQ(d->entries[5].kind, EntryKind::kFifo);
    EXPECT_EQ(d->entries[6].kind, EntryKind::kSocket);
    EXPECT_EQ(S(d->entries[8].link_target), "../b-file");
    EXPECT_EQ(d->entries[0].metadata.acl.default_users.size(), 1u);
    auto again =
        Encode(*d, version, version == 2 ? std::optional<Bytes>(B(kSamplePrelude)) : std::nullopt);
    ASSERT_TRUE(again.has_value()) << again.error().message();
    EXPECT_EQ(again->first, meta);
    EXPECT_EQ(again->second, payload);
  }
}

TEST(PxarDecoder, SplitFileDataNeedsThePayloadStream) {
  auto [meta, payload] = SamplePxar(2);
  MemoryInput in(meta);
  Decoder d(in, nullptr);
  for (;;) {
    auto e = d.Next();
    ASSERT_TRUE(e.has_value());
    ASSERT_TRUE(e->has_value());
    if ((*e)->kind == EntryKind::kFile) break;
  }
  auto data = d.ReadFileData();
  ASSERT_FALSE(data.has_value());
  EXPECT_NE(data.error().message().find("payload stream"), std::string::npos);
}

// Every single-byte change and every truncation of an archive either
// decodes or fails with kCorrupt: never a crash, a hang or another code.
TEST(PxarDecoder, DamagedArchivesFailCleanly) {
  for (int version : {1, 2}) {
    auto [meta, payload] = SamplePxar(version);
    size_t failures = 0;
    for (size_t i = 0; i < meta.size(); ++i) {
      Bytes bad = meta;
      bad[i] ^= 0x41;
      auto d = DecodeAll(bad, version == 2 ? &payload : nullptr);
      if (!d) {
        ++failures;
        EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt) << i << ": " << d.error().message();
      }
    }
    // Nearly everything is caught: only bytes of data, names, values and
    // mode bits can change without breaking a rule.
    EXPECT_GT(failures, meta.size() / 2);
    for (size_t n = 0; n < meta.size(); n += 7) {
      auto d = DecodeAll(ByteView(meta.data(), n), version == 2 ? &payload : nullptr);
      ASSERT_FALSE(d.has_value()) << n;
      EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt);
    }
  }
}

TEST(PxarDecoder, FaultsAreNamed) {
  auto [meta, payload] = SamplePxar(2);
  auto fails_with = [&](const Bytes& m, const Bytes& p, std::string_view text) {
    auto d = DecodeAll(m, &p, /*sequential=*/true);
    ASSERT_FALSE(d.has_value()) << text;
    EXPECT_NE(d.error().message().find(text), std::string::npos) << d.error().message();
  };
  // Trailing bytes after the root's goodbye table.
  Bytes longer = meta;
  longer.push_back(0);
  fails_with(longer, payload, "after the root directory's end");
  // A goodbye item pointing elsewhere: the root's table ends the archive,
  // its first item's offset is 24 * n + 8 bytes before the tail's start.
  Bytes moved = meta;
  const size_t tail = meta.size() - kGoodbyeItemSize;
  const uint64_t items = (LoadLe64(meta.data() + tail + 16) - kHeaderSize) / kGoodbyeItemSize;
  const size_t first = tail - (items - 1) * kGoodbyeItemSize;
  StoreLe64(moved.data() + first + 8, LoadLe64(moved.data() + first + 8) + 1);
  fails_with(moved, payload, "goodbye table item 0");
  // The payload stream's marker, and a ref that lands between headers.
  Bytes no_marker = payload;
  no_marker[0] ^= 1;
  fails_with(meta, no_marker, "does not start with its marker");
  Bytes shifted(payload.begin(), payload.begin() + 16);
  shifted.insert(shifted.end(), 8, 0);
  shifted.insert(shifted.end(), payload.begin() + 16, payload.end());
  fails_with(meta, shifted, "does not land on a PAYLOAD header");
}

TEST(PxarDecoder, ASequentialPayloadStreamReadBackwardsIsAnError) {
  // A payload stream with "aaa" then "bb"; the archive lists the second
  // first. Read at random, both are found; read in one pass, the second
  // ref lies behind what was read.
  Bytes stream;
  AppendHeader(stream, kPayloadStartMarker, 0);
  AppendHeader(stream, kPayload, 3);
  stream.insert(stream.end(), {'a', 'a', 'a'});
  AppendHeader(stream, kPayload, 2);
  stream.insert(stream.end(), {'b', 'b'});
  AppendHeader(stream, kPayloadTailMarker, 0);
  // The encoder writes refs only forwards (as PBS's does since pxar
  // 1.0.1): the refs are written in order, then their contents swapped.
  MemorySink meta, unused;
  Encoder enc(meta, &unused);
  ASSERT_TRUE(enc.Begin(kDir).has_value());
  ASSERT_TRUE(enc.AddPayloadRef(AsBytes("x"), kFile, PayloadRef{16, 2}).has_value());
  ASSERT_TRUE(enc.AddPayloadRef(AsBytes("y"), kFile, PayloadRef{35, 3}).has_value());
  ASSERT_TRUE(enc.Finish().has_value());
  Bytes x_ref, y_ref;
  AppendLe64(x_ref, 16);
  AppendLe64(x_ref, 2);
  AppendLe64(y_ref, 35);
  AppendLe64(y_ref, 3);
  auto at_x = std::search(meta.out.begin(), meta.out.end(), x_ref.begin(), x_ref.end());
  auto at_y = std::search(meta.out.begin(), meta.out.end(), y_ref.begin(), y_ref.end());
  ASSERT_TRUE(at_x != meta.out.end() && at_y != meta.out.end());
  StoreLe64(&*at_x, 35);
  StoreLe64(&*at_y, 16);
  {
    MemorySink m, p;
    Encoder strict(m, &p);
    ASSERT_TRUE(strict.Begin(kDir).has_value());
    ASSERT_TRUE(strict.AddPayloadRef(AsBytes("x"), kFile, PayloadRef{35, 2}).has_value());
    EXPECT_FALSE(strict.AddPayloadRef(AsBytes("y"), kFile, PayloadRef{16, 3}).has_value());
  }
  auto random = DecodeAll(meta.out, &stream);
  ASSERT_TRUE(random.has_value()) << random.error().message();
  EXPECT_EQ(random->data["x"], B("bb"));
  EXPECT_EQ(random->data["y"], B("aaa"));

  bool given = false;
  SequentialInput seq([&]() -> Result<ByteView> {
    if (given) return ByteView();
    given = true;
    return ByteView(stream);
  });
  MemoryInput in(meta.out);
  Decoder d(in, &seq);
  Status failed;
  for (int i = 0; i < 4 && failed; ++i) {
    auto e = d.Next();
    ASSERT_TRUE(e.has_value()) << e.error().message();
    if ((*e)->kind != EntryKind::kFile) continue;
    // Reading to the stream's end drops the piece, as a chunk reader does.
    auto piece = d.ReadFileData();
    if (piece) piece = seq.ReadAt(stream.size(), 1);
    if (!piece) failed = std::unexpected(piece.error());
  }
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("behind"), std::string::npos) << failed.error().message();
  EXPECT_NE(failed.error().message().find("y"), std::string::npos) << failed.error().message();
}

TEST(PxarEncoder, MisuseIsRefused) {
  MemorySink meta, payload;
  Encoder v1(meta, nullptr);
  EXPECT_FALSE(v1.Begin(kFile).has_value());  // the root must be a directory
  Encoder enc(meta, &payload);
  ASSERT_TRUE(enc.Begin(kDir).has_value());
  EXPECT_FALSE(enc.BeginDirectory(AsBytes("a/b"), kDir).has_value());
  Encoder enc2(meta, &payload);
  ASSERT_TRUE(enc2.Begin(kDir).has_value());
  ASSERT_TRUE(enc2.BeginFile(AsBytes("f"), kFile, 10).has_value());
  ASSERT_TRUE(enc2.WriteFileData(B("12345")).has_value());
  EXPECT_FALSE(enc2.EndFile().has_value());  // 5 bytes missing
  Encoder enc3(meta, &payload);
  ASSERT_TRUE(enc3.Begin(kDir).has_value());
  ASSERT_TRUE(enc3.BeginFile(AsBytes("f"), kFile, 2).has_value());
  EXPECT_FALSE(enc3.WriteFileData(B("123")).has_value());
  Encoder enc4(meta, &payload);
  ASSERT_TRUE(enc4.Begin(kDir).has_value());
  enc4.AdvancePayload(100);
  EXPECT_FALSE(enc4.AddPayloadRef(AsBytes("f"), kFile, PayloadRef{50, 1}).has_value());
  Encoder enc5(meta, nullptr);
  EXPECT_FALSE(enc5.Begin(kDir, Bytes{}).has_value());  // no prelude in version 1
}

std::vector<std::string> Names(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const Entry& e : entries) out.push_back(S(e.name()));
  return out;
}

TEST(PxarAccessor, FindsAndListsThroughGoodbyeTables) {
  const Bytes raw = ReadData("backup-client-pxar-data.mpxar");
  MemoryInput in(raw);
  auto a = Accessor::Open(in, raw.size());
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_EQ(a->version(), 2);
  auto root = a->List(a->root());
  ASSERT_TRUE(root.has_value()) << root.error().message();
  ASSERT_EQ(root->size(), 10u);
  EXPECT_EQ(S((*root)[3].path), "folder_3");
  auto folder = a->List((*root)[3]);
  ASSERT_TRUE(folder.has_value()) << folder.error().message();
  EXPECT_EQ(Names(*folder).back(), "file_9");
  auto file = a->Lookup(AsBytes("folder_3/file_7"));
  ASSERT_TRUE(file.has_value()) << file.error().message();
  EXPECT_EQ(file->kind, EntryKind::kFile);
  EXPECT_EQ(file->payload_ref->offset, 16 + 37 * (16 + kMiB));
  auto missing = a->Lookup(AsBytes("folder_3/file_10"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("file_10"), std::string::npos);
  EXPECT_FALSE(a->Lookup(AsBytes("folder_3/file_7/x")).has_value());
}

TEST(PxarAccessor, ReadsPartsOfEveryKindOfArchive) {
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    auto [meta, payload] = SamplePxar(version);
    MemoryInput in(meta), pin(payload);
    auto a = Accessor::Open(in, meta.size());
    ASSERT_TRUE(a.has_value()) << a.error().message();
    auto root = a->List(a->root());
    ASSERT_TRUE(root.has_value()) << root.error().message();
    EXPECT_EQ(Names(*root), (std::vector<std::string>{"a-empty", "b-file", "c-link", "d-null",
                                                      "e-fifo", "f-socket", "g-dir", "i-link"}));
    const std::string deep = "g-dir/\xff\x01weird/" + std::string(4096, 'n');
    auto file = a->Lookup(AsBytes(deep));
    ASSERT_TRUE(file.has_value()) << file.error().message();
    EXPECT_EQ(file->size, 9u);
    // A subtree decoded on its own, file data included.
    auto dir = a->Lookup(AsBytes("g-dir"));
    ASSERT_TRUE(dir.has_value());
    auto sub = a->Subtree(*dir, version == 2 ? &pin : nullptr);
    std::vector<std::string> paths;
    std::string data;
    for (;;) {
      auto e = sub->Next();
      ASSERT_TRUE(e.has_value()) << e.error().message();
      if (!*e) break;
      paths.push_back(S((*e)->path) + ((*e)->kind == EntryKind::kDirectoryEnd ? " end" : ""));
      if ((*e)->kind == EntryKind::kFile)
        for (auto p = sub->ReadFileData(); p && !p->empty(); p = sub->ReadFileData()) data += S(*p);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"g-dir", "g-dir/link", "g-dir/\xff\x01weird", deep,
                                               "g-dir/\xff\x01weird end", "g-dir/h-empty-dir",
                                               "g-dir/h-empty-dir end", "g-dir end"}));
    EXPECT_EQ(data, "long name");
  }
}

TEST(PxarAccessor, DamagedTablesAreRefused) {
  auto [meta, payload] = SamplePxar(2);
  // Every byte of the root's goodbye table flipped: refused or, where the
  // change keeps the table consistent, listed; never a crash.
  const size_t table = meta.size() - 9 * kGoodbyeItemSize - kHeaderSize;
  size_t refused = 0;
  for (size_t i = table; i < meta.size(); ++i) {
    Bytes bad = meta;
    bad[i] ^= 0x10;
    MemoryInput in(bad);
    auto a = Accessor::Open(in, bad.size());
    if (!a) continue;
    auto listed = a->List(a->root());
    if (!listed) {
      ++refused;
      EXPECT_EQ(listed.error().code(), ErrorCode::kCorrupt) << listed.error().message();
    }
  }
  EXPECT_GT(refused, (meta.size() - table) / 2);
}

TEST(PxarCatalog, TablesAreLaidOutAsPbsWritesThem) {
  MemorySink out;
  CatalogWriter c(out);
  ASSERT_TRUE(c.StartDirectory(AsBytes("a.pxar.didx")).has_value());
  ASSERT_TRUE(c.AddFile(AsBytes("f"), 3, 1).has_value());
  ASSERT_TRUE(c.EndDirectory().has_value());
  ASSERT_TRUE(c.Finish().has_value());
  Bytes want(kCatalogMagic, kCatalogMagic + 8);
  // a.pxar.didx's table at 8: one entry, file "f", size 3, mtime 1.
  for (int b : {6, 1, int('f'), 1, int('f'), 3, 1}) want.push_back(uint8_t(b));
  // The root's at 15: directory "a.pxar.didx", its table 7 bytes back.
  for (int b : {15, 1, int('d'), 11}) want.push_back(uint8_t(b));
  for (char ch : std::string("a.pxar.didx")) want.push_back(uint8_t(ch));
  want.push_back(7);
  AppendLe64(want, 15);
  EXPECT_EQ(out.out, want);
}

TEST(PxarCatalog, IntegersAreVariableLength) {
  auto u = [](uint64_t v) {
    Bytes b;
    AppendCatalogU64(b, v);
    return b;
  };
  auto i = [](int64_t v) {
    Bytes b;
    AppendCatalogI64(b, v);
    return b;
  };
  EXPECT_EQ(u(0), (Bytes{0}));
  EXPECT_EQ(u(127), (Bytes{127}));
  EXPECT_EQ(u(128), (Bytes{0x80, 1}));
  EXPECT_EQ(u(300), (Bytes{0xac, 2}));
  EXPECT_EQ(i(5), (Bytes{5}));
  EXPECT_EQ(i(-1), (Bytes{0x81, 0}));
  EXPECT_EQ(i(-200), (Bytes{0xc8, 0x81, 0}));
  EXPECT_EQ(u(~uint64_t{0}).size(), 10u);
}

TEST(PxarChunking, ASuggestedCutEndsAChunkOfAtLeastTheMinimum) {
  std::vector<size_t> sizes;
  ChunkAssembler a(64 * 1024, 4, [&](ByteBuffer c) -> Status {
    sizes.push_back(c.size());
    return {};
  });
  ASSERT_TRUE(a.Write(Bytes(10000, 1)).has_value());
  ASSERT_TRUE(a.SuggestCut().has_value());  // below the 16 KiB minimum: dropped
  ASSERT_TRUE(a.Write(Bytes(10000, 2)).has_value());
  ASSERT_TRUE(a.SuggestCut().has_value());  // 20000 bytes: taken
  ASSERT_TRUE(a.SuggestCut().has_value());  // nothing since: dropped
  ASSERT_TRUE(a.Write(Bytes(20000, 3)).has_value());
  ASSERT_TRUE(a.Finish().has_value());
  EXPECT_EQ(sizes, (std::vector<size_t>{20000, 20000}));
}

// An index's chunks read at random: a chunk the index repeats close by is
// fetched once (kept by digest), and one of another size than the index
// says is refused, named.
TEST(PxarChunkedInput, KeepsChunksByDigestAndChecksTheirSize) {
  const Bytes a(1000, 'a'), b(500, 'b');
  std::map<Digest, Bytes> chunks{{Sha256Of(a), a}, {Sha256Of(b), b}};
  std::map<Digest, int> fetched;
  auto fetch = [&](const Digest& d) -> Result<Bytes> {
    ++fetched[d];
    return chunks.at(d);
  };
  ChunkedInput in({1000, 1500, 2500}, {Sha256Of(a), Sha256Of(b), Sha256Of(a)}, fetch, "archive x");
  Bytes all;
  for (uint64_t at = 0; at < in.size();) {
    auto piece = in.ReadAt(at, 300);
    ASSERT_TRUE(piece.has_value()) << piece.error().message();
    ASSERT_FALSE(piece->empty());
    all.insert(all.end(), piece->begin(), piece->end());
    at += piece->size();
  }
  Bytes want = a;
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), a.begin(), a.end());
  EXPECT_EQ(all, want);
  EXPECT_EQ(fetched[Sha256Of(a)], 1);
  EXPECT_EQ(fetched[Sha256Of(b)], 1);
  EXPECT_EQ(in.chunks_fetched(), 2u);

  // The index says chunk b holds 600 bytes.
  ChunkedInput wrong({1000, 1600}, {Sha256Of(a), Sha256Of(b)}, fetch, "archive y");
  auto bad = wrong.ReadAt(1200, 10);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(bad.error().message(),
            "archive y: chunk " + ToHex(Sha256Of(b)) + " holds 500 bytes, the index says 600");
}

}  // namespace
}  // namespace chunkvault::pxar

#include "support/pxar_samples.h"

#include <gtest/gtest.h>

#include <string>

namespace chunkvault::testing {

using namespace chunkvault::pxar;

Status MemorySink::Write(ByteView data) {
  out.insert(out.end(), data.begin(), data.end());
  return {};
}

Status MemorySink::SuggestCut() {
  cuts.push_back(out.size());
  return {};
}

namespace {

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

Metadata PxarMeta(uint64_t mode, uint32_t uid, int64_t mtime) {
  Metadata m;
  m.stat.mode = mode;
  m.stat.uid = m.stat.gid = uid;
  m.stat.mtime_secs = mtime;
  return m;
}

std::pair<Bytes, Bytes> SamplePxar(int version) {
  MemorySink meta, payload;
  Encoder enc(meta, version == 2 ? &payload : nullptr);
  Metadata root = PxarMeta(kModeDir | 0755, 0, 1700000000);
  root.stat.mtime_nanos = 123456789;
  root.acl.default_acl = AclDefault{7, 5, 5, kNoAclMask};
  root.acl.default_users = {{1001, 7}};
  root.acl.default_groups = {{2001, 5}};
  EXPECT_TRUE(enc.Begin(root, version == 2 ? std::optional<Bytes>(B(kSamplePrelude)) : std::nullopt)
                  .has_value());
  Metadata file = PxarMeta(kModeReg | 0640, 1000, -5);  // before 1970
  file.stat.mtime_nanos = 999999999;
  file.stat.flags = 0x100000;  // NODUMP
  file.xattrs = {{B("user.comment"), B("hello")}, {B("trusted.x"), Bytes{0, 1, 2}}};
  file.acl.users = {{1001, 6}};
  file.acl.groups = {{2001, 4}};
  file.acl.group_obj = 4;
  file.fcaps = Bytes{1, 0, 0, 2, 0, 0x20, 0, 0};
  file.quota_project_id = 42;
  auto add_file = [&](std::string_view name, const Metadata& m, const Bytes& data) {
    auto at = enc.BeginFile(AsBytes(name), m, data.size());
    EXPECT_TRUE(at.has_value());
    EXPECT_TRUE(enc.WriteFileData(data).has_value());
    EXPECT_TRUE(enc.EndFile().has_value());
    return at.value_or(0);
  };
  auto ok = [](const Status& s) { EXPECT_TRUE(s.has_value()) << s.error().message(); };
  add_file("a-empty", PxarMeta(kModeReg | 0644), {});
  const uint64_t linked = add_file("b-file", file, Bytes(3000, 'x'));
  ok(enc.AddHardlink(AsBytes("c-link"), AsBytes("b-file"), linked));
  ok(enc.AddDevice(AsBytes("d-null"), PxarMeta(kModeChr | 0666, 0), 1, 3));
  ok(enc.AddSpecial(AsBytes("e-fifo"), PxarMeta(kModeFifo | 0600)));
  ok(enc.AddSpecial(AsBytes("f-socket"), PxarMeta(kModeSock | 0600)));
  ok(enc.BeginDirectory(AsBytes("g-dir"), PxarMeta(kModeDir | 0700)));
  ok(enc.AddSymlink(AsBytes("link"), PxarMeta(kModeLnk | 0777), AsBytes("../b-file")));
  ok(enc.BeginDirectory(AsBytes("\xff\x01weird"), PxarMeta(kModeDir | 0700)));
  add_file(std::string(4096, 'n'), PxarMeta(kModeReg | 0600), B("long name"));
  ok(enc.EndDirectory());
  ok(enc.BeginDirectory(AsBytes("h-empty-dir"), PxarMeta(kModeDir | 0700)));
  ok(enc.EndDirectory());
  ok(enc.EndDirectory());
  ok(enc.AddHardlink(AsBytes("i-link"), AsBytes("b-file"), linked));
  ok(enc.Finish());
  return {std::move(meta.out), std::move(payload.out)};
}

}  // namespace chunkvault::testing

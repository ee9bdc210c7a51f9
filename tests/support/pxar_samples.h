// pxar archives for tests, made with the encoder: one with every kind of
// entry and metadata item, and the sink that collects them.
#pragma once

#include <utility>
#include <vector>

#include "archive/pxar/encoder.h"
#include "archive/stream_sink.h"

namespace chunkvault::testing {

// A stream in memory; the offsets at which a cut was suggested.
class MemorySink final : public StreamSink {
 public:
  Status Write(ByteView data) override;
  std::span<uint8_t> Space() override { return room_; }
  Status Commit(size_t n) override { return Write(ByteView(room_.data(), n)); }
  Status SuggestCut() override;

  Bytes out;
  std::vector<uint64_t> cuts;

 private:
  Bytes room_ = Bytes(7000);  // odd-sized, so data crosses Space() calls
};

// Metadata of `mode` (type bits included), owned by uid = gid = `uid`.
pxar::Metadata PxarMeta(uint64_t mode, uint32_t uid = 1000, int64_t mtime = 0);

// The prelude of the version 2 sample.
inline constexpr std::string_view kSamplePrelude = R"({"exclude-patterns":"*.o"})";

// An archive (version 1: one stream; 2: metadata and payload streams)
// holding, in this order below the root (mode 0755, a default ACL): an
// empty file "a-empty"; "b-file", 3000 bytes of 'x' with xattrs, an
// ACL, fcaps, a project id, a flag and a time before 1970; "c-link", a
// hard link to it; "d-null", a character device 1:3; a FIFO "e-fifo";
// a socket "f-socket"; directory "g-dir" with a symlink "link" to
// "../b-file", a directory "\xff\x01weird" holding a file of 4096 'n's
// ("long name"), and an empty directory "h-empty-dir"; then "i-link",
// another hard link to b-file.
std::pair<Bytes, Bytes> SamplePxar(int version);

}  // namespace chunkvault::testing

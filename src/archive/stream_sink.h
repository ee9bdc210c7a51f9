// Where an archive stream goes (a tar stream, a pxar metadata or payload
// stream): into the chunk assembler during a backup, into a function or
// a buffer elsewhere.
//
// Thread-safety: a sink is called by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>

#include "chunkvault/bytes.h"
#include "chunkvault/hash.h"
#include "chunkvault/status.h"

namespace chunkvault {

// A chunk of an earlier archive that becomes part of a stream whole, by
// its digest, without being read (pxar's metadata change detection).
struct ReusedChunk {
  Digest digest{};
  uint64_t size = 0;
};

// Write() takes a copy of header bytes and the like; file data is read
// straight into the sink's own memory: the writer asks for Space(), reads
// into it and hands it back with Commit(). An error stops the stream and
// is returned by the writer unchanged.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual Status Write(ByteView data) = 0;
  // Room for the next stream bytes, never empty; valid until the next call.
  virtual std::span<uint8_t> Space() = 0;
  // The first n bytes of the last Space() are the next stream bytes.
  virtual Status Commit(size_t n) = 0;
  // A good place to cut a chunk: the stream so far ends where a file's
  // data begins (pxar's payload streams). Sinks that do not cut ignore it.
  virtual Status SuggestCut() { return {}; }
  // The stream so far ends a chunk here, however short, and `chunks`
  // follow it. kUnsupported where the sink cuts no chunks.
  virtual Status InjectChunks(std::span<const ReusedChunk> chunks) {
    (void)chunks;
    return Fail(ErrorCode::kUnsupported, "this stream cannot take reused chunks");
  }
};

// A StreamSink handing the stream to any writer with the same calls (the
// chunk assembler), which this layer does not know. With `append`, the
// writer cuts its stream where chunks are injected (CutAndSkip) and
// `append` takes each of them after it.
template <typename Writer>
class StreamSinkOf final : public StreamSink {
 public:
  using Append = std::function<Status(const ReusedChunk&)>;
  explicit StreamSinkOf(Writer& writer, Append append = nullptr)
      : writer_(writer), append_(std::move(append)) {}
  Status Write(ByteView data) override { return writer_.Write(data); }
  std::span<uint8_t> Space() override { return writer_.Space(); }
  Status Commit(size_t n) override { return writer_.Commit(n); }
  Status SuggestCut() override {
    if constexpr (requires { writer_.SuggestCut(); }) return writer_.SuggestCut();
    return {};
  }
  Status InjectChunks(std::span<const ReusedChunk> chunks) override {
    if constexpr (requires { writer_.CutAndSkip(uint64_t{0}); }) {
      if (append_) {
        uint64_t total = 0;
        for (const ReusedChunk& c : chunks) total += c.size;
        CV_RETURN_IF_ERROR(writer_.CutAndSkip(total));
        for (const ReusedChunk& c : chunks) CV_RETURN_IF_ERROR(append_(c));
        return {};
      }
    }
    return StreamSink::InjectChunks(chunks);
  }

 private:
  Writer& writer_;
  const Append append_;
};

}  // namespace chunkvault

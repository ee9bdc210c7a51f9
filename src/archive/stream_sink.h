// Where an archive stream goes (a tar stream, a pxar metadata or payload
// stream): into the chunk assembler during a backup, into a function or
// a buffer elsewhere.
//
// Thread-safety: a sink is called by one thread.
#pragma once

#include <cstdint>
#include <span>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

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
};

// A StreamSink handing the stream to any writer with the same calls (the
// chunk assembler), which this layer does not know.
template <typename Writer>
class StreamSinkOf final : public StreamSink {
 public:
  explicit StreamSinkOf(Writer& writer) : writer_(writer) {}
  Status Write(ByteView data) override { return writer_.Write(data); }
  std::span<uint8_t> Space() override { return writer_.Space(); }
  Status Commit(size_t n) override { return writer_.Commit(n); }
  Status SuggestCut() override {
    if constexpr (requires { writer_.SuggestCut(); }) return writer_.SuggestCut();
    return {};
  }

 private:
  Writer& writer_;
};

}  // namespace chunkvault

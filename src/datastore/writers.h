// Running writers of a datastore and when they started, across processes,
// so that garbage collection never sweeps what a running backup relies on
// (the cutoff moves back to the oldest writer's start; docs/architecture.md).
//
// A writer holds an exclusive lock on <store>/.writers/<start>-<pid>-<n>
// while it runs and removes the file when done. A file nobody holds the
// lock of was left by a writer that died; the next look removes it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "chunkvault/env.h"

namespace chunkvault {

class WriterRegistration {
 public:
  WriterRegistration(Env* env, std::string path, std::unique_ptr<FileLock> lock)
      : env_(env), path_(std::move(path)), lock_(std::move(lock)) {}
  ~WriterRegistration();
  WriterRegistration(const WriterRegistration&) = delete;
  WriterRegistration& operator=(const WriterRegistration&) = delete;

 private:
  Env* const env_;
  const std::string path_;
  std::unique_ptr<FileLock> lock_;
};

// Registers a writer that started at `start` (Env::NowNanos()).
Result<std::unique_ptr<WriterRegistration>> RegisterWriter(Env* env, const std::string& store,
                                                           int64_t start);

// The start (nanoseconds) of the oldest running writer, or nullopt if
// none runs.
Result<std::optional<int64_t>> OldestWriterStart(Env* env, const std::string& store);

}  // namespace chunkvault

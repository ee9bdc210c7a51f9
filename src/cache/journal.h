// Persistence of the chunk cache's state: which chunks are cached, in
// which policy order, so that a new process knows them without a GET and
// without listing .chunks.
//
//   <dir>/state     checkpoint: every entry of the policy (CRC-protected)
//   <dir>/journal   changes since the checkpoint, 48-byte records, each
//                   with its own CRC; the header names the checkpoint
//                   generation it follows
//
// A crash can cut the journal anywhere: recovery replays every whole,
// valid record and cuts the file after the last one. A journal that does
// not follow the checkpoint (a crash between writing the two) is ignored:
// its changes are in the checkpoint already. Without a usable checkpoint
// the caller rebuilds the state by scanning .chunks.
//
// Thread-safety: one owner process, calls serialised by ChunkCache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cache/policy.h"
#include "chunkvault/env.h"

namespace chunkvault {

struct JournalRecord {
  enum Type : uint8_t { kInsert = 1, kEvict = 2, kErase = 3 };
  Type type = kInsert;
  Digest digest{};
  uint64_t size = 0;
};

inline constexpr size_t kJournalRecordSize = 48;

class CacheJournal {
 public:
  struct Recovered {
    bool usable = false;  // false: no valid checkpoint; rebuild from disk
    std::string policy;   // the policy the checkpoint was written by
    std::vector<CachePolicy::Entry> entries;  // the checkpoint
    std::vector<JournalRecord> records;       // changes after it, in order
    uint64_t cut_bytes = 0;                   // torn tail removed
  };

  // Reads the state in `dir` (created if missing) and opens the journal for
  // appending, both through `env`.
  static Result<std::pair<std::unique_ptr<CacheJournal>, Recovered>> Open(
      const std::string& dir, Env* env = Env::Default());

  Status Append(const JournalRecord& record);
  // Writes a new checkpoint of `entries` and starts an empty journal.
  Status Checkpoint(const std::string& policy, const std::vector<CachePolicy::Entry>& entries);
  uint64_t records_since_checkpoint() const { return records_; }

 private:
  CacheJournal(Env* env, std::string dir, uint64_t generation,
               std::unique_ptr<AppendableFile> journal, uint64_t records)
      : env_(env),
        dir_(std::move(dir)),
        generation_(generation),
        journal_(std::move(journal)),
        records_(records) {}
  Status StartJournal(uint64_t generation);

  Env* const env_;
  const std::string dir_;
  uint64_t generation_;
  std::unique_ptr<AppendableFile> journal_;
  uint64_t records_;
};

}  // namespace chunkvault

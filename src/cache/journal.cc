#include "cache/journal.h"

#include <cstring>

#include "chunkvault/hash.h"

namespace chunkvault {

namespace {

constexpr char kStateMagic[8] = {'C', 'V', 'C', 'A', 'C', 'H', 'E', '1'};
constexpr char kJournalMagic[8] = {'C', 'V', 'J', 'R', 'N', 'L', '0', '1'};
constexpr size_t kStateHeader = 8 + 16 + 8 + 8;  // magic, policy, generation, count
constexpr size_t kJournalHeader = 8 + 8;         // magic, generation
// The most the state or the journal is read to (some 24 million chunks);
// a larger one is treated as unreadable: the cache is rebuilt from .chunks/.
constexpr uint64_t kMaxStateFileSize = uint64_t(1) << 30;

// One 48-byte record: type, queue, freq, 0, digest, size, crc32 of the rest.
void Encode(uint8_t* p, uint8_t type, uint8_t queue, uint8_t freq, const Digest& d, uint64_t size) {
  p[0] = type;
  p[1] = queue;
  p[2] = freq;
  p[3] = 0;
  std::memcpy(p + 4, d.data(), 32);
  StoreLe64(p + 36, size);
  StoreLe32(p + 44, Crc32(ByteView(p, 44)));
}

bool Decode(const uint8_t* p, uint8_t& type, uint8_t& queue, uint8_t& freq, Digest& d, uint64_t& size) {
  if (LoadLe32(p + 44) != Crc32(ByteView(p, 44))) return false;
  type = p[0];
  queue = p[1];
  freq = p[2];
  std::memcpy(d.data(), p + 4, 32);
  size = LoadLe64(p + 36);
  return true;
}

}  // namespace

Result<std::pair<std::unique_ptr<CacheJournal>, CacheJournal::Recovered>> CacheJournal::Open(
    const std::string& dir, Env* env) {
  CV_RETURN_IF_ERROR(env->CreateDirs(dir));
  Recovered rec;
  uint64_t generation = 0;

  // The checkpoint.
  auto state = env->ReadFile(dir + "/state", kMaxStateFileSize);
  if (state && state->size() >= kStateHeader + 4 &&
      std::memcmp(state->data(), kStateMagic, 8) == 0 &&
      LoadLe32(state->data() + state->size() - 4) ==
          Crc32(ByteView(*state).subspan(0, state->size() - 4))) {
    const uint8_t* p = state->data();
    rec.policy = std::string(reinterpret_cast<const char*>(p + 8), strnlen(reinterpret_cast<const char*>(p + 8), 16));
    generation = LoadLe64(p + 24);
    uint64_t count = LoadLe64(p + 32);
    // The count is compared by division: a hostile one must not wrap.
    if ((state->size() - kStateHeader - 4) % kJournalRecordSize == 0 &&
        count == (state->size() - kStateHeader - 4) / kJournalRecordSize) {
      rec.usable = true;
      for (uint64_t i = 0; i < count; ++i) {
        CachePolicy::Entry e;
        uint8_t type;
        if (!Decode(p + kStateHeader + i * kJournalRecordSize, type, e.queue, e.freq, e.digest, e.size)) {
          rec.usable = false;
          break;
        }
        rec.entries.push_back(e);
      }
    }
  }
  if (!rec.usable) rec.entries.clear();

  // The journal after it.
  const std::string jpath = dir + "/journal";
  uint64_t valid_end = 0;
  auto journal = env->ReadFile(jpath, kMaxStateFileSize);
  if (rec.usable && journal && journal->size() >= kJournalHeader &&
      std::memcmp(journal->data(), kJournalMagic, 8) == 0 &&
      LoadLe64(journal->data() + 8) == generation) {
    valid_end = kJournalHeader;
    for (size_t off = kJournalHeader; off + kJournalRecordSize <= journal->size(); off += kJournalRecordSize) {
      JournalRecord r;
      uint8_t type, queue, freq;
      if (!Decode(journal->data() + off, type, queue, freq, r.digest, r.size) || type < 1 || type > 3)
        break;
      r.type = JournalRecord::Type(type);
      rec.records.push_back(r);
      valid_end = off + kJournalRecordSize;
    }
    rec.cut_bytes = journal->size() - valid_end;
  }

  std::unique_ptr<CacheJournal> j(
      new CacheJournal(env, dir, generation, nullptr, rec.records.size()));
  if (valid_end == 0) {
    // No journal that follows the checkpoint: start one.
    CV_RETURN_IF_ERROR(j->StartJournal(generation));
  } else {
    // Cut a torn tail so new records follow the last whole one.
    CV_ASSIGN_OR_RETURN(j->journal_, env->OpenAppendable(jpath, valid_end));
  }
  return std::pair{std::move(j), std::move(rec)};
}

Status CacheJournal::StartJournal(uint64_t generation) {
  const std::string path = dir_ + "/journal";
  uint8_t header[kJournalHeader];
  std::memcpy(header, kJournalMagic, 8);
  StoreLe64(header + 8, generation);
  // Written in place and truncated: the header is one small write, and a
  // journal whose generation does not match is ignored anyway.
  CV_ASSIGN_OR_RETURN(journal_, env_->OpenAppendable(path, 0));
  CV_RETURN_IF_ERROR(journal_->Append(ByteView(header, sizeof header)));
  generation_ = generation;
  records_ = 0;
  return {};
}

Status CacheJournal::Append(const JournalRecord& record) {
  uint8_t buf[kJournalRecordSize];
  Encode(buf, record.type, 0, 0, record.digest, record.size);
  CV_RETURN_IF_ERROR(journal_->Append(ByteView(buf, sizeof buf)));
  ++records_;
  return {};
}

Status CacheJournal::Checkpoint(const std::string& policy,
                                const std::vector<CachePolicy::Entry>& entries) {
  Bytes out(kStateHeader + entries.size() * kJournalRecordSize + 4, 0);
  std::memcpy(out.data(), kStateMagic, 8);
  std::memcpy(out.data() + 8, policy.data(), std::min<size_t>(policy.size(), 16));
  StoreLe64(out.data() + 24, generation_ + 1);
  StoreLe64(out.data() + 32, entries.size());
  for (size_t i = 0; i < entries.size(); ++i)
    Encode(out.data() + kStateHeader + i * kJournalRecordSize, 0, entries[i].queue,
           entries[i].freq, entries[i].digest, entries[i].size);
  StoreLe32(out.data() + out.size() - 4, Crc32(ByteView(out).subspan(0, out.size() - 4)));
  WriteOptions opts;
  opts.crash_label = "cache-state";
  CV_RETURN_IF_ERROR(env_->WriteFileAtomic(dir_ + "/state", out, opts));
  // A crash here leaves the old journal (generation - 1): ignored on
  // recovery, its changes being part of the new checkpoint.
  return StartJournal(generation_ + 1);
}

}  // namespace chunkvault

#include "store/chunk_store.h"

#include <cstdio>

#include "chunkvault/blob.h"
#include "chunkvault/chunk_path.h"

namespace chunkvault {

const char* SyncLevelName(SyncLevel level) {
  switch (level) {
    case SyncLevel::kNone: return "none";
    case SyncLevel::kFile: return "file";
    case SyncLevel::kFilesystem: return "filesystem";
  }
  return "?";
}

Result<SyncLevel> ParseSyncLevel(std::string_view text) {
  if (text == "none") return SyncLevel::kNone;
  if (text == "file") return SyncLevel::kFile;
  if (text == "filesystem") return SyncLevel::kFilesystem;
  return Fail(ErrorCode::kInvalidArgument,
              "invalid sync level '" + std::string(text) + "' (expected none, file or filesystem)");
}

std::string ChunkRelPath(const Digest& digest) {
  const std::string hex = ToHex(digest);
  return ".chunks/" + hex.substr(0, 4) + "/" + hex;
}

Status ChunkStore::Create(Env* env, const std::string& base) {
  const std::string dir = JoinPath(base, ".chunks");
  CV_RETURN_IF_ERROR(env->CreateDir(dir, 0750));
  char name[5];
  for (unsigned i = 0; i < 0x10000; ++i) {
    std::snprintf(name, sizeof name, "%04x", i);
    CV_RETURN_IF_ERROR(env->CreateDir(JoinPath(dir, name), 0750));
  }
  return {};
}

ChunkStore::ChunkStore(Env* env, std::string base, SyncLevel sync)
    : env_(env), base_(std::move(base)), chunk_dir_(JoinPath(base_, ".chunks")), sync_(sync) {}

std::string ChunkStore::ChunkPath(const Digest& digest) const {
  return JoinPath(base_, ChunkRelPath(digest));
}

Result<std::optional<uint64_t>> ChunkStore::StoredSize(const Digest& digest) {
  auto st = env_->Stat(ChunkPath(digest));
  if (!st) {
    if (st.error().code() == ErrorCode::kNotFound) return std::optional<uint64_t>();
    return std::unexpected(std::move(st).error());
  }
  if (st->type != FileType::kRegular)
    return Fail(ErrorCode::kCorrupt, "chunk " + ToHex(digest) + " is not a regular file");
  return std::optional<uint64_t>(st->size);
}

Result<InsertResult> ChunkStore::Insert(const Digest& digest, ByteView blob) {
  const std::string path = ChunkPath(digest);
  CV_ASSIGN_OR_RETURN(std::optional<uint64_t> old, StoredSize(digest));
  if (old && *old != 0 && *old <= blob.size()) {
    CV_RETURN_IF_ERROR(env_->TouchAtime(path));
    return InsertResult{true, *old};
  }
  WriteOptions opts;
  opts.sync = sync_ == SyncLevel::kFile;
  opts.crash_label = "chunk";
  CV_RETURN_IF_ERROR(WithContext(env_->WriteFileAtomic(path, blob, opts),
                                 "insert chunk " + ToHex(digest)));
  return InsertResult{false, blob.size()};
}

Result<Bytes> ChunkStore::ReadRaw(const Digest& digest) {
  return env_->ReadFile(ChunkPath(digest), kMaxChunkFileSize);
}

Status ChunkStore::Touch(const Digest& digest) { return env_->TouchAtime(ChunkPath(digest)); }

Status ChunkStore::Remove(const Digest& digest) {
  auto st = env_->RemoveFile(ChunkPath(digest));
  if (!st && st.error().code() == ErrorCode::kNotFound) return {};
  return st;
}

Result<std::unique_ptr<FileLock>> ChunkStore::LockDir(const Digest& digest, bool exclusive,
                                                     bool wait) {
  const std::string path = ChunkPath(digest);
  return env_->Lock(path.substr(0, path.rfind('/')),
                    exclusive ? LockMode::kExclusive : LockMode::kShared, wait);
}

Status ChunkStore::EvictToMarker(const Digest& digest) {
  const std::string path = ChunkPath(digest);
  auto st = env_->Stat(path);
  if (!st) return st.error().code() == ErrorCode::kNotFound ? Status() : Status(std::unexpected(st.error()));
  if (st->size == 0) return {};
  WriteOptions opts;
  opts.keep_times_of = path;  // the marker inherits the chunk's atime and mtime
  opts.crash_label = "evict";
  return env_->WriteFileAtomic(path, {}, opts);
}

Result<bool> ChunkStore::WriteMarker(const Digest& digest) {
  const std::string path = ChunkPath(digest);
  auto st = env_->Stat(path);
  if (st) return false;
  if (st.error().code() != ErrorCode::kNotFound) return std::unexpected(st.error());
  WriteOptions opts;
  opts.crash_label = "marker";
  auto created = env_->WriteFileIfAbsent(path, {}, opts);
  if (!created) return std::unexpected(created.error());
  return *created;
}

std::string BadSuffix(int n) { return "." + std::to_string(n) + ".bad"; }

std::optional<ChunkFileName> ParseChunkFileName(std::string_view name) {
  // BadSuffix(0..9): one digit between the dots.
  const bool bad = name.size() == 70 && name[64] == '.' && name[65] >= '0' && name[65] <= '9' &&
                   name.ends_with(".bad");
  if (name.size() != 64 && !bad) return std::nullopt;
  auto digest = DigestFromHex(name.substr(0, 64));
  if (!digest) return std::nullopt;
  return ChunkFileName{*digest, std::string(name.substr(64))};
}

Result<std::string> ChunkStore::MarkBad(const Digest& digest, std::optional<int> number) {
  const std::string path = ChunkPath(digest);
  std::string bad = path + BadSuffix(number.value_or(0));
  for (int n = 1; !number && n < 10; ++n) {
    auto st = env_->Stat(bad);
    if (!st && st.error().code() == ErrorCode::kNotFound) break;
    bad = path + BadSuffix(n);
  }
  // With all ten taken, the last one is replaced, as PBS does.
  CV_RETURN_IF_ERROR(env_->Rename(path, bad));
  return bad;
}

Status ChunkStore::ForEachChunk(
    const std::function<Status(const ChunkFileName&, const std::string&)>& fn,
    const std::function<Status(const std::string&, const std::string&)>& other) {
  char name[5];
  for (unsigned i = 0; i < 0x10000; ++i) {
    std::snprintf(name, sizeof name, "%04x", i);
    const std::string dir = chunk_dir_ + "/" + name;
    auto entries = env_->ListDir(dir);
    if (!entries) {
      if (entries.error().code() == ErrorCode::kNotFound) continue;
      return std::unexpected(std::move(entries).error());
    }
    for (const std::string& e : *entries) {
      auto name = ParseChunkFileName(e);
      if (name)
        CV_RETURN_IF_ERROR(fn(*name, dir + "/" + e));
      else if (other)
        CV_RETURN_IF_ERROR(other(e, dir + "/" + e));
    }
  }
  return {};
}

}  // namespace chunkvault

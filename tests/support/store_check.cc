#include "support/store_check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "chunkvault/blob.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"

namespace chunkvault::testing {

namespace fs = std::filesystem;

namespace {

Bytes Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void CheckChunkDir(const fs::path& dir, std::vector<std::string>& problems) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp_") != std::string::npos) continue;  // not a final name
    auto digest = DigestFromHex(name);
    if (!digest) {
      problems.push_back(e.path().string() + ": unexpected file in the chunk store");
    } else if (auto r = DecodeChunk(Slurp(e.path().string()), *digest); !r) {
      problems.push_back(e.path().string() + ": " + r.error().message());
    }
  }
}

// Calls fn for every entry of the store outside .chunks.
template <class F>
void WalkMetadata(const std::string& store, F fn) {
  for (auto it = fs::recursive_directory_iterator(store); it != fs::recursive_directory_iterator();
       ++it) {
    if (it.depth() == 0 && it->path().filename() == ".chunks") {
      it.disable_recursion_pending();
      continue;
    }
    fn(*it);
  }
}

}  // namespace

std::vector<std::string> CheckStoreFiles(const std::string& store,
                                         const std::optional<std::set<std::string>>& chunk_dirs) {
  std::vector<std::string> problems;
  if (chunk_dirs) {
    for (const std::string& d : *chunk_dirs) CheckChunkDir(d, problems);
  } else {
    for (auto& d : fs::directory_iterator(fs::path(store) / ".chunks")) CheckChunkDir(d.path(), problems);
  }
  WalkMetadata(store, [&](const fs::directory_entry& e) {
    if (!e.is_regular_file()) return;
    const std::string path = e.path().string();
    const std::string name = e.path().filename().string();
    if (name.find(".tmp_") != std::string::npos) return;
    auto note = [&](const Error& err) { problems.push_back(path + ": " + err.message()); };
    if (name.ends_with(".didx")) {
      if (auto r = DynamicIndex::Parse(Slurp(path)); !r) note(r.error());
    } else if (name.ends_with(".fidx")) {
      if (auto r = FixedIndex::Parse(Slurp(path)); !r) note(r.error());
    } else if (name == kManifestBlobName) {
      if (auto r = Manifest::DecodeBlob(Slurp(path)); !r) note(r.error());
    } else if (name.ends_with(".blob")) {
      if (auto r = DecodeBlob(Slurp(path)); !r) note(r.error());
    }
  });
  return problems;
}

std::vector<std::string> IncompleteSnapshots(const std::string& store) {
  std::vector<std::string> out;
  WalkMetadata(store, [&](const fs::directory_entry& e) {
    if (!e.is_directory()) return;
    const std::string name = e.path().filename().string();
    // Snapshot directories are named by their time: 2020-06-26T13:56:05Z.
    if (name.size() == 20 && name[10] == 'T' && name.back() == 'Z' &&
        !fs::exists(e.path() / kManifestBlobName))
      out.push_back(e.path().string());
  });
  return out;
}

std::vector<std::string> ChunkFilePaths(const std::string& store, ChunkFileKind kind) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(store + "/.chunks")) {
    if (!e.is_regular_file()) continue;
    if (kind == ChunkFileKind::kAny || (e.file_size() == 0) == (kind == ChunkFileKind::kMarker))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::set<std::string> Basenames(const std::vector<std::string>& paths) {
  std::set<std::string> out;
  for (const std::string& p : paths) out.insert(p.substr(p.rfind('/') + 1));
  return out;
}

std::set<std::string> ChunkFileNames(const std::string& store) {
  return Basenames(ChunkFilePaths(store));
}

bool AgeChunkFiles(const std::string& store, int64_t seconds) {
  const timespec times[2] = {{::time(nullptr) - seconds, 0}, {0, UTIME_OMIT}};
  for (auto& e : std::filesystem::recursive_directory_iterator(store + "/.chunks"))
    if (e.is_regular_file() && ::utimensat(AT_FDCWD, e.path().c_str(), times, 0) != 0) return false;
  return true;
}

}  // namespace chunkvault::testing

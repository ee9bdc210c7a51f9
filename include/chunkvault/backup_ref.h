// Names in a datastore: namespaces, backup groups and snapshots.
//
//   namespace  "a/b"            -> ns/a/ns/b          (at most 7 deep)
//   group      host/elsa        -> [ns/...]/host/elsa
//   snapshot   host/elsa/2020-06-26T13:56:05Z
//
// Every parser rejects what PBS would reject and says why, so a name can
// never escape the datastore directory ("..", "/", empty components).
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr size_t kMaxNamespaceDepth = 7;

// Backup ids and namespace components: [A-Za-z0-9_][A-Za-z0-9._-]*
Status CheckBackupId(std::string_view id);

struct BackupNamespace {
  std::vector<std::string> components;  // empty: the root namespace

  static Result<BackupNamespace> Parse(std::string_view text);  // "a/b" or ""
  bool is_root() const { return components.empty(); }
  std::string ToString() const;  // "a/b"
  std::string RelPath() const;   // "ns/a/ns/b", "" for the root
  bool operator==(const BackupNamespace&) const = default;
};

enum class BackupType { kVm, kCt, kHost };
const char* BackupTypeName(BackupType type);
Result<BackupType> ParseBackupType(std::string_view text);

struct BackupGroup {
  BackupNamespace ns;
  BackupType type = BackupType::kHost;
  std::string id;

  std::string ToString() const;  // "host/elsa"
  std::string RelPath() const;   // "ns/a/host/elsa"
  bool operator==(const BackupGroup&) const = default;
};

struct SnapshotRef {
  BackupGroup group;
  int64_t time = 0;

  // "TYPE/ID/TIME" within namespace `ns`.
  static Result<SnapshotRef> Parse(const BackupNamespace& ns, std::string_view text);
  std::string TimeString() const;  // RFC 3339
  std::string ToString() const;    // "host/elsa/2020-06-26T13:56:05Z"
  std::string RelPath() const;
  bool operator==(const SnapshotRef&) const = default;
};

}  // namespace chunkvault

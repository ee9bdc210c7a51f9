#include "chunkvault/backup_ref.h"

#include "chunkvault/time.h"
#include "util/safe_name.h"

namespace chunkvault {

Status CheckBackupId(std::string_view id) {
  if (!IsSafeName(id, 128))
    return Fail(ErrorCode::kInvalidArgument,
                "invalid name '" + std::string(id) +
                    "': use letters, digits, '_', '.' and '-', not starting with '.' or '-'");
  return {};
}

Result<BackupNamespace> BackupNamespace::Parse(std::string_view text) {
  BackupNamespace ns;
  while (!text.empty()) {
    size_t slash = text.find('/');
    std::string_view part = text.substr(0, slash);
    CV_RETURN_IF_ERROR(WithContext(Status(CheckBackupId(part)), "namespace"));
    ns.components.emplace_back(part);
    if (slash == std::string_view::npos) break;
    text.remove_prefix(slash + 1);
    if (text.empty()) return Fail(ErrorCode::kInvalidArgument, "namespace ends with '/'");
  }
  if (ns.components.size() > kMaxNamespaceDepth)
    return Fail(ErrorCode::kInvalidArgument, "namespace is deeper than 7 levels");
  return ns;
}

std::string BackupNamespace::ToString() const {
  std::string out;
  for (const auto& c : components) out += (out.empty() ? "" : "/") + c;
  return out;
}

std::string BackupNamespace::RelPath() const {
  std::string out;
  for (const auto& c : components) out += (out.empty() ? "ns/" : "/ns/") + c;
  return out;
}

const char* BackupTypeName(BackupType type) {
  switch (type) {
    case BackupType::kVm: return "vm";
    case BackupType::kCt: return "ct";
    case BackupType::kHost: return "host";
  }
  return "?";
}

Result<BackupType> ParseBackupType(std::string_view text) {
  if (text == "vm") return BackupType::kVm;
  if (text == "ct") return BackupType::kCt;
  if (text == "host") return BackupType::kHost;
  return Fail(ErrorCode::kInvalidArgument,
              "invalid backup type '" + std::string(text) + "' (expected vm, ct or host)");
}

std::string BackupGroup::ToString() const { return std::string(BackupTypeName(type)) + "/" + id; }

std::string BackupGroup::RelPath() const {
  std::string prefix = ns.RelPath();
  return (prefix.empty() ? "" : prefix + "/") + ToString();
}

Result<SnapshotRef> SnapshotRef::Parse(const BackupNamespace& ns, std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid snapshot '" + std::string(text) + "': " + why +
                    " (expected TYPE/ID/TIME, e.g. host/elsa/2020-06-26T13:56:05Z)");
  };
  size_t a = text.find('/');
  if (a == std::string_view::npos) return bad("no '/'");
  size_t b = text.find('/', a + 1);
  if (b == std::string_view::npos) return bad("no time");
  SnapshotRef ref;
  ref.group.ns = ns;
  auto type = ParseBackupType(text.substr(0, a));
  if (!type) return bad(type.error().message());
  ref.group.type = *type;
  ref.group.id = std::string(text.substr(a + 1, b - a - 1));
  if (auto st = CheckBackupId(ref.group.id); !st) return bad(st.error().message());
  auto time = ParseRfc3339(text.substr(b + 1));
  if (!time) return bad(time.error().message());
  ref.time = *time;
  return ref;
}

std::string SnapshotRef::TimeString() const { return FormatRfc3339(time); }
std::string SnapshotRef::ToString() const { return group.ToString() + "/" + TimeString(); }
std::string SnapshotRef::RelPath() const { return group.RelPath() + "/" + TimeString(); }

}  // namespace chunkvault

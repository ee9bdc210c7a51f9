#include "datastore/archive_names.h"

namespace chunkvault {

Result<ArchiveReader::Kind> ArchiveKindOf(const std::string& file_name) {
  if (file_name.ends_with(".didx")) return ArchiveReader::Kind::kDynamic;
  if (file_name.ends_with(".fidx")) return ArchiveReader::Kind::kFixed;
  if (file_name.ends_with(".blob")) return ArchiveReader::Kind::kBlob;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown archive type of '" + file_name + "' (expected .didx, .fidx or .blob)");
}

Status CheckArchiveName(const std::string& name, const std::string& suffix) {
  if (!name.ends_with(suffix) || name.size() == suffix.size())
    return Fail(ErrorCode::kInvalidArgument,
                "archive name '" + name + "' must end with " + suffix);
  return WithContext(CheckBackupId(name), "archive name");
}

Result<std::string> ResolveArchiveName(const Manifest& manifest, const std::string& archive,
                                       const SnapshotRef& snap) {
  for (const char* ext : {"", ".didx", ".fidx", ".blob"}) {
    std::string candidate = archive + ext;
    if (manifest.Find(candidate) != nullptr) return candidate;
  }
  std::string have;
  for (const ManifestFile& f : manifest.files) have += (have.empty() ? "" : ", ") + f.filename;
  return Fail(ErrorCode::kNotFound, "snapshot " + snap.ToString() + " has no archive '" + archive +
                                        "' (it has: " + have + ")");
}

std::string TmpIndexName(const std::string& file_name) {
  auto dot = file_name.rfind('.');
  return file_name.substr(0, dot) + ".tmp_" + file_name.substr(dot + 1);
}

}  // namespace chunkvault

#include "store/snapshot_store.h"

#include <algorithm>

#include "chunkvault/blob.h"
#include "chunkvault/time.h"

namespace chunkvault {

namespace {
constexpr char kOwnerFile[] = "owner";
constexpr char kNotesFile[] = "notes";
constexpr char kProtectedFile[] = ".protected";

bool IsNotFound(const Error& e) { return e.code() == ErrorCode::kNotFound; }
}  // namespace

SnapshotStore::SnapshotStore(Env* env, std::string base, SyncLevel sync, MetadataMirror* mirror)
    : env_(env), base_(std::move(base)), sync_(sync), mirror_(mirror) {}

std::string SnapshotStore::Rel(const std::string& abs) const {
  return abs.substr(base_.size() + (base_.back() == '/' ? 0 : 1));
}

Status SnapshotStore::WriteMirrored(const std::string& rel_path, ByteView data,
                                    const WriteOptions& options, MirrorOrder order) {
  if (mirror_ && order == MirrorOrder::kBeforeLocal)
    CV_RETURN_IF_ERROR(mirror_->Put(rel_path, data));
  CV_RETURN_IF_ERROR(env_->WriteFileAtomic(JoinPath(base_, rel_path), data, options));
  if (mirror_ && order == MirrorOrder::kAfterLocal) CV_RETURN_IF_ERROR(mirror_->Put(rel_path, data));
  return {};
}

std::string SnapshotStore::Path(const BackupNamespace& ns) const {
  return ns.is_root() ? base_ : JoinPath(base_, ns.RelPath());
}
std::string SnapshotStore::Path(const BackupGroup& group) const {
  return JoinPath(base_, group.RelPath());
}
std::string SnapshotStore::Path(const SnapshotRef& snap) const {
  return JoinPath(base_, snap.RelPath());
}
std::string SnapshotStore::FilePath(const SnapshotRef& snap, const std::string& name) const {
  return JoinPath(Path(snap), name);
}

Status SnapshotStore::CreateNamespace(const BackupNamespace& ns) {
  if (ns.is_root()) return {};
  CV_RETURN_IF_ERROR(env_->CreateDirs(Path(ns)));
  if (mirror_) {
    // PBS marks each namespace level in the bucket: .cnt/ns/a/.namespace.
    BackupNamespace level;
    for (const std::string& c : ns.components) {
      level.components.push_back(c);
      CV_RETURN_IF_ERROR(mirror_->Put(level.RelPath() + "/.namespace", {}));
    }
  }
  return {};
}

Result<std::vector<BackupNamespace>> SnapshotStore::ListNamespaces(const BackupNamespace& parent,
                                                                   bool recursive) {
  std::vector<BackupNamespace> out;
  auto names = env_->ListDir(JoinPath(Path(parent), "ns"));
  if (!names) {
    if (IsNotFound(names.error())) return out;
    return std::unexpected(std::move(names).error());
  }
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names) {
    if (!CheckBackupId(name) || parent.components.size() >= kMaxNamespaceDepth) continue;
    BackupNamespace child = parent;
    child.components.push_back(name);
    out.push_back(child);
    if (recursive) {
      CV_ASSIGN_OR_RETURN(auto grand, ListNamespaces(child, true));
      out.insert(out.end(), grand.begin(), grand.end());
    }
  }
  return out;
}

Result<std::vector<BackupGroup>> SnapshotStore::ListGroups(const BackupNamespace& ns) {
  std::vector<BackupGroup> out;
  for (BackupType type : {BackupType::kCt, BackupType::kHost, BackupType::kVm}) {
    auto ids = env_->ListDir(JoinPath(Path(ns), BackupTypeName(type)));
    if (!ids) {
      if (IsNotFound(ids.error())) continue;
      return std::unexpected(std::move(ids).error());
    }
    std::sort(ids->begin(), ids->end());
    for (const std::string& id : *ids)
      if (CheckBackupId(id)) out.push_back(BackupGroup{ns, type, id});
  }
  return out;
}

Result<std::vector<SnapshotEntry>> SnapshotStore::ListSnapshots(const BackupGroup& group) {
  std::vector<SnapshotEntry> out;
  auto names = env_->ListDir(Path(group));
  if (!names) {
    if (IsNotFound(names.error())) return out;
    return std::unexpected(std::move(names).error());
  }
  for (const std::string& name : *names) {
    auto time = ParseRfc3339(name);
    if (!time) continue;  // owner, notes, temporary files
    SnapshotEntry e;
    e.ref = SnapshotRef{group, *time};
    const std::string dir = Path(e.ref);
    auto st = env_->Stat(dir);
    if (!st || st->type != FileType::kDirectory) continue;
    e.complete = env_->Stat(JoinPath(dir, kManifestBlobName)).has_value();
    e.is_protected = env_->Stat(JoinPath(dir, kProtectedFile)).has_value();
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.ref.time < b.ref.time; });
  return out;
}

Result<std::vector<SnapshotEntry>> SnapshotStore::ListSnapshotsIn(const BackupNamespace& ns,
                                                                  bool recursive) {
  std::vector<BackupNamespace> namespaces = {ns};
  if (recursive) {
    CV_ASSIGN_OR_RETURN(auto children, ListNamespaces(ns, true));
    namespaces.insert(namespaces.end(), children.begin(), children.end());
  }
  std::vector<SnapshotEntry> out;
  for (const BackupNamespace& n : namespaces) {
    CV_ASSIGN_OR_RETURN(auto groups, ListGroups(n));
    for (const BackupGroup& g : groups) {
      CV_ASSIGN_OR_RETURN(auto entries, ListSnapshots(g));
      out.insert(out.end(), entries.begin(), entries.end());
    }
  }
  return out;
}

Result<std::string> SnapshotStore::ReadOwner(const BackupGroup& group) {
  CV_ASSIGN_OR_RETURN(Bytes raw,
                      env_->ReadFile(JoinPath(Path(group), kOwnerFile), kMaxMetadataFileSize));
  std::string owner(AsString(raw));
  while (!owner.empty() && (owner.back() == '\n' || owner.back() == '\r')) owner.pop_back();
  return owner;
}

Status SnapshotStore::WriteOwner(const BackupGroup& group, const std::string& owner) {
  WriteOptions opts;
  opts.sync = sync_ != SyncLevel::kNone;
  return WriteMirrored(group.RelPath() + "/" + kOwnerFile, AsBytes(owner + "\n"), opts,
                       MirrorOrder::kBeforeLocal);
}

Result<std::string> SnapshotStore::ReadGroupNotes(const BackupGroup& group) {
  auto raw = env_->ReadFile(JoinPath(Path(group), kNotesFile), kMaxMetadataFileSize);
  if (!raw) {
    if (IsNotFound(raw.error())) return std::string();
    return std::unexpected(std::move(raw).error());
  }
  return std::string(AsString(*raw));
}

Status SnapshotStore::WriteGroupNotes(const BackupGroup& group, const std::string& notes) {
  WriteOptions opts;
  opts.sync = sync_ != SyncLevel::kNone;
  return WriteMirrored(group.RelPath() + "/" + kNotesFile, AsBytes(notes), opts,
                       MirrorOrder::kBeforeLocal);
}

Result<bool> SnapshotStore::IsProtected(const SnapshotRef& snap) {
  auto st = env_->Stat(FilePath(snap, kProtectedFile));
  if (st) return true;
  if (IsNotFound(st.error())) return false;
  return std::unexpected(std::move(st).error());
}

Status SnapshotStore::SetProtected(const SnapshotRef& snap, bool on) {
  const std::string rel = snap.RelPath() + "/" + kProtectedFile;
  if (on) {
    WriteOptions opts;
    opts.sync = sync_ != SyncLevel::kNone;
    return WriteMirrored(rel, {}, opts, MirrorOrder::kBeforeLocal);
  }
  if (mirror_) CV_RETURN_IF_ERROR(mirror_->Delete(rel));
  auto st = env_->RemoveFile(JoinPath(base_, rel));
  if (!st && !IsNotFound(st.error())) return st;
  return {};
}

Result<Bytes> SnapshotStore::ReadFile(const SnapshotRef& snap, const std::string& name,
                                      uint64_t max_size) {
  return env_->ReadFile(FilePath(snap, name), max_size);
}

Status SnapshotStore::WriteFile(const SnapshotRef& snap, const std::string& name, ByteView data,
                                const std::string& tmp_name, const char* crash_label,
                                MirrorOrder order) {
  WriteOptions opts;
  opts.sync = sync_ == SyncLevel::kFile;
  if (!tmp_name.empty()) opts.tmp_path = FilePath(snap, tmp_name);
  opts.crash_label = crash_label;
  return WriteMirrored(snap.RelPath() + "/" + name, data, opts, order);
}

Result<std::vector<std::string>> SnapshotStore::ListFiles(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(auto names, env_->ListDir(Path(snap)));
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::optional<SnapshotRef>> SnapshotStore::LastBackup(const BackupGroup& group) {
  CV_ASSIGN_OR_RETURN(std::vector<SnapshotEntry> entries, ListSnapshots(group));
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (!it->complete) continue;
    auto m = ReadManifest(it->ref);
    if (m) {
      auto state = m->unprotected.find("verify_state");
      if (state != m->unprotected.end() && state->is_object() &&
          state->value("state", "") == "failed")
        return std::optional<SnapshotRef>();
    }
    return std::optional(it->ref);
  }
  return std::optional<SnapshotRef>();
}

Result<Manifest> SnapshotStore::ReadManifest(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadFile(snap, kManifestBlobName, kMaxBlobFileSize));
  const std::string path = FilePath(snap, kManifestBlobName);
  CV_ASSIGN_OR_RETURN(Manifest m, WithContext(Manifest::DecodeBlob(raw), path));
  CV_RETURN_IF_ERROR(CheckManifestIsOf(m, snap, path));
  return m;
}

Status CheckManifestIsOf(const Manifest& m, const SnapshotRef& snap, const std::string& where) {
  if (m.backup_type != BackupTypeName(snap.group.type) || m.backup_id != snap.group.id ||
      m.backup_time != snap.time)
    return Fail(ErrorCode::kCorrupt, where + ": the manifest is of snapshot " + m.backup_type +
                                         "/" + m.backup_id + "/" + FormatRfc3339(m.backup_time) +
                                         ", not of " + snap.ToString());
  return {};
}

Status SnapshotStore::WriteManifest(const SnapshotRef& snap, const Manifest& manifest) {
  // The manifest makes a snapshot complete, so it is always made durable:
  // after a crash it must not exist while what it lists does not.
  WriteOptions opts;
  opts.sync = sync_ != SyncLevel::kNone;
  opts.crash_label = "manifest";
  return WriteMirrored(snap.RelPath() + "/" + kManifestBlobName, manifest.EncodeBlob(), opts,
                       MirrorOrder::kBeforeLocal);
}

Status SnapshotStore::RemoveSnapshot(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(bool prot, IsProtected(snap));
  if (prot)
    return Fail(ErrorCode::kProtected, "snapshot " + snap.ToString() + " is protected");
  // The mirror first: if it fails, the snapshot is still here to retry.
  if (mirror_) CV_RETURN_IF_ERROR(mirror_->DeleteTree(snap.RelPath()));
  return env_->RemoveTree(Path(snap));
}

Status SnapshotStore::RemoveUnfinished(const SnapshotRef& snap) {
  // The local directory goes even if the mirror cannot be reached: an
  // unfinished snapshot is useless, and the mirror holds at most index
  // files of it, never its manifest.
  Status mirrored = mirror_ ? mirror_->DeleteTree(snap.RelPath()) : Status();
  CV_RETURN_IF_ERROR(env_->RemoveTree(Path(snap)));
  return mirrored;
}

}  // namespace chunkvault

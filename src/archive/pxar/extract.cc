#include "archive/pxar/extract.h"

#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "archive/pxar/fs_metadata.h"
#include "archive/tree_restorer.h"

namespace chunkvault::pxar {
namespace {

constexpr char kCapability[] = "security.capability";

// The xattrs a restore sets: those PBS keeps (a hostile archive could
// name system.* or security.* ones), the capabilities after them.
bool RestoredXattrName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return name.starts_with("user.") || name.starts_with("trusted.") || name == "security.NTACL";
}

class PxarExtractor {
 public:
  PxarExtractor(Decoder& decoder, TarObserver* observer, const EntryFilter& filter)
      : decoder_(decoder), restorer_(observer), filter_(filter) {}

  Result<TarStats> Run(const std::string& target, const ExtractOptions& options) {
    CV_RETURN_IF_ERROR(restorer_.Open(target, options));
    // Directories entered: whether their whole subtree is restored, and
    // (not yet made) the node to make once something below is.
    struct Open {
      bool all = false;
      std::optional<RestoreNode> pending;
    };
    std::vector<Open> open;
    for (;;) {
      CV_ASSIGN_OR_RETURN(std::optional<Entry> next, decoder_.Next());
      if (!next) break;
      Entry& e = *next;
      if (e.kind == EntryKind::kDirectoryEnd) {
        if (!open.empty()) open.pop_back();
        continue;
      }
      const bool inside_all = open.empty() ? !filter_ : open.back().all;
      const bool wanted = inside_all || (!e.path.empty() && filter_(e));
      if (e.kind == EntryKind::kDirectory) {
        Open dir;
        dir.all = wanted;
        RestoreNode node = NodeOf(e);
        node.type = RestoreNode::Type::kDirectory;
        if (wanted || e.path.empty()) {
          CV_RETURN_IF_ERROR(MakePending(open));
          CV_RETURN_IF_ERROR(restorer_.Add(std::move(node), nullptr));
        } else {
          dir.pending = std::move(node);
        }
        open.push_back(std::move(dir));
        continue;
      }
      if (!wanted) continue;
      CV_RETURN_IF_ERROR(MakePending(open));
      CV_RETURN_IF_ERROR(AddEntry(e, decoder_));
    }
    return WithContext(restorer_.Finish(), "restore into " + target);
  }

 private:
  // Makes the directories on the way that were held back.
  template <class OpenDirs>
  Status MakePending(OpenDirs& open) {
    for (auto& dir : open) {
      if (!dir.pending) continue;
      CV_RETURN_IF_ERROR(restorer_.Add(std::move(*dir.pending), nullptr));
      dir.pending.reset();
    }
    return {};
  }

  RestoreNode NodeOf(const Entry& e) {
    RestoreNode node;
    node.rel.assign(e.path.begin(), e.path.end());  // names checked by the decoder
    node.name = node.rel.empty() ? "." : node.rel;
    const Metadata& m = e.metadata;
    NodeMetadata& meta = node.meta;
    meta.perm = mode_t(m.stat.mode & 07777);
    meta.atime = restorer_.start();
    meta.mtime = timespec{time_t(m.stat.mtime_secs), long(m.stat.mtime_nanos)};
    if (restorer_.options().restore_owner) {
      meta.owner.emplace(m.stat.uid, m.stat.gid);
      // Like the owner, a project id is whom a quota charges: restored by
      // root only. The format holds 64 bits; Linux's ids have 32.
      if (m.quota_project_id && *m.quota_project_id <= UINT32_MAX)
        meta.project_id = uint32_t(*m.quota_project_id);
    }
    for (const Xattr& x : m.xattrs) {
      const std::string name(AsString(x.name));
      if (RestoredXattrName(name))
        meta.xattrs.emplace_back(name, x.value);
      else
        restorer_.Warn(node.name + ": extended attribute " + name + " not restored");
    }
    if (m.fcaps) meta.xattrs.emplace_back(kCapability, *m.fcaps);
    meta.acls = AclXattrs(m.acl, m.stat.mode);
    meta.fflags_set = ChattrFromFlags(m.stat.flags);
    return node;
  }

  // An entry whose data (a file's) `from` reads.
  Status AddEntry(Entry& e, Decoder& from) {
    using Type = RestoreNode::Type;
    RestoreNode node;
    if (e.kind == EntryKind::kHardlink) {
      node.rel.assign(e.path.begin(), e.path.end());
      node.name = node.rel;
      const std::string to(AsString(e.link_target));
      if (!SafeRelative(to))
        return Fail(ErrorCode::kCorrupt,
                    "pxar hard link '" + node.name + "' points outside the target: " + to);
      node.type = Type::kHardlink;
      node.link = Normalize(to);
      if (!restorer_.Restored(node.link)) return AddWithoutTarget(e, std::move(node));
      return restorer_.Add(std::move(node), nullptr);
    }
    node = NodeOf(e);
    switch (e.kind) {
      case EntryKind::kFile:
        node.type = Type::kFile;
        break;
      case EntryKind::kSymlink:
        node.type = Type::kSymlink;
        node.link.assign(e.link_target.begin(), e.link_target.end());
        break;
      case EntryKind::kDevice:
        node.type = e.metadata.stat.type() == kModeBlk ? Type::kBlockDevice : Type::kCharDevice;
        node.rdev = makedev(unsigned(e.device_major), unsigned(e.device_minor));
        break;
      case EntryKind::kFifo:
        node.type = Type::kFifo;
        break;
      case EntryKind::kSocket:
        node.type = Type::kSocket;
        break;
      default:
        return Fail(ErrorCode::kInternal, "pxar: unexpected entry kind");
    }
    node.size = e.size;
    return restorer_.Add(std::move(node), [&from](const TakeData& take) -> Status {
      uint64_t offset = 0;
      for (;;) {
        CV_ASSIGN_OR_RETURN(ByteView piece, from.ReadFileData());
        if (piece.empty()) return {};
        const std::shared_ptr<const void> keep = from.KeepFileData();
        CV_RETURN_IF_ERROR(take(offset, piece.data(), piece.size(), keep ? &keep : nullptr));
        offset += piece.size();
      }
    });
  }

  // A hard link whose target this restore left out (a partial restore):
  // the first such link to a file becomes the file, read where the
  // target is; later links to it link to that one.
  Status AddWithoutTarget(const Entry& link, RestoreNode node) {
    if (auto it = stand_ins_.find(node.link); it != stand_ins_.end()) {
      node.link = it->second;
      return restorer_.Add(std::move(node), nullptr);
    }
    CV_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> from, decoder_.HardlinkTarget(link));
    CV_ASSIGN_OR_RETURN(std::optional<Entry> target, from->Next());
    if (!target || target->kind != EntryKind::kFile ||
        Normalize(AsString(target->path)) != node.link)
      return Fail(ErrorCode::kCorrupt, "pxar hard link '" + node.name + "' names '" + node.link +
                                           "', which is no regular file at offset " +
                                           std::to_string(link.link_offset));
    stand_ins_.emplace(node.link, node.rel);
    target->path = link.path;
    return AddEntry(*target, *from);
  }

  Decoder& decoder_;
  TreeRestorer restorer_;
  const EntryFilter& filter_;
  // Hard link targets left out -> the link restored as the file.
  std::unordered_map<std::string, std::string> stand_ins_;
};

}  // namespace

Result<TarStats> ExtractPxar(Decoder& decoder, const std::string& target,
                             const ExtractOptions& options, TarObserver* observer,
                             const EntryFilter& filter) {
  PxarExtractor extractor(decoder, observer, filter);
  return extractor.Run(target, options);
}

}  // namespace chunkvault::pxar

// chunkvault ls SNAPSHOT ARCHIVE [PATH] [--json]
// chunkvault find SNAPSHOT ARCHIVE PATTERN... [--json]
// Both read only a pxar archive's metadata (docs/pxar.md).
#include <cstdio>

#include "chunkvault/time.h"
#include "chunkvault/tree_archive.h"
#include "cli/cache_report.h"
#include "cli/common.h"
#include "cli/crypt_options.h"

namespace chunkvault::cli {
namespace {

struct BrowseArgs {
  StoreOptions store;
  std::string snapshot, archive;
  std::vector<std::string> rest;  // ls: [PATH]; find: PATTERN...
  CryptArgs crypt;
};

const char* TypeName(TreeEntry::Type t) {
  switch (t) {
    case TreeEntry::Type::kDirectory:
      return "directory";
    case TreeEntry::Type::kFile:
      return "file";
    case TreeEntry::Type::kSymlink:
      return "symlink";
    case TreeEntry::Type::kHardlink:
      return "hardlink";
    case TreeEntry::Type::kDevice:
      return "device";
    case TreeEntry::Type::kFifo:
      return "fifo";
    case TreeEntry::Type::kSocket:
      return "socket";
  }
  return "unknown";
}

// "drwxr-xr-x", as ls -l shows it.
std::string ModeString(const TreeEntry& e) {
  std::string s(10, '-');
  switch (e.type) {
    case TreeEntry::Type::kDirectory:
      s[0] = 'd';
      break;
    case TreeEntry::Type::kSymlink:
      s[0] = 'l';
      break;
    case TreeEntry::Type::kHardlink:
      s[0] = 'h';
      break;
    case TreeEntry::Type::kDevice:
      s[0] = (e.mode & 0170000) == 0060000 ? 'b' : 'c';
      break;
    case TreeEntry::Type::kFifo:
      s[0] = 'p';
      break;
    case TreeEntry::Type::kSocket:
      s[0] = 's';
      break;
    default:
      break;
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i)
    if (e.mode & (0400u >> i)) s[size_t(i) + 1] = rwx[i];
  if (e.mode & 04000) s[3] = (e.mode & 0100) ? 's' : 'S';
  if (e.mode & 02000) s[6] = (e.mode & 0010) ? 's' : 'S';
  if (e.mode & 01000) s[9] = (e.mode & 0001) ? 't' : 'T';
  return s;
}

nlohmann::json EntryJson(const TreeEntry& e) {
  nlohmann::json j = {{"path", e.path},         {"type", TypeName(e.type)},
                      {"mode", e.mode & 07777}, {"uid", e.uid},
                      {"gid", e.gid},           {"size", e.size},
                      {"mtime", e.mtime},       {"mtime-nanos", e.mtime_nanos}};
  if (!e.link_target.empty()) j["target"] = e.link_target;
  if (e.type == TreeEntry::Type::kDevice) j["device"] = {e.device_major, e.device_minor};
  return j;
}

void PrintLong(const TreeEntry& e, const std::string& name) {
  std::string line = ModeString(e) + " " + std::to_string(e.uid) + "/" + std::to_string(e.gid);
  char size[32];
  std::snprintf(size, sizeof size, " %12llu ", (unsigned long long)e.size);
  line += size + FormatUtc(e.mtime, "%Y-%m-%d %H:%M:%S") + " " + name;
  if (e.type == TreeEntry::Type::kSymlink) line += " -> " + e.link_target;
  if (e.type == TreeEntry::Type::kHardlink) line += " link to " + e.link_target;
  std::printf("%s\n", line.c_str());
}

// An archive and the store or server it is read from (which it needs:
// declared first, destroyed last).
struct Browsed {
  SnapshotSource source;
  std::unique_ptr<TreeArchive> archive;
};

Result<Browsed> OpenBrowsed(const BrowseArgs& args) {
  CV_ASSIGN_OR_RETURN(SnapshotRef snap, ParseSnapshot(args.store, args.snapshot));
  Browsed b;
  CV_ASSIGN_OR_RETURN(b.source, OpenSnapshotSource(args.store, snap));
  CV_ASSIGN_OR_RETURN(
      auto key, KeyForSnapshot(args.crypt, b.source.store.get(), b.source.remote.get(), snap));
  if (b.source.store) {
    CV_ASSIGN_OR_RETURN(b.archive, b.source.store->OpenTreeArchive(snap, args.archive, key));
  } else {
    CV_ASSIGN_OR_RETURN(b.archive,
                        OpenTreeArchive(b.source.remote, args.archive, b.source.jobs, key));
  }
  return b;
}

// The entries, the chunks read for them and, for a store, its cache and
// S3 requests.
nlohmann::json BrowseJson(const Browsed& b, nlohmann::json entries) {
  const TreeArchiveReads reads = b.archive->reads();
  nlohmann::json j = {
      {"entries", std::move(entries)},
      {"chunks-read", {{"metadata", reads.metadata_chunks}, {"payload", reads.payload_chunks}}}};
  if (b.source.store) AddCacheJson(j, b.source.store->Report());
  return j;
}

int RunLs(const BrowseArgs& args) {
  if (args.rest.size() > 1)
    return ReportError(Error(ErrorCode::kInvalidArgument, "ls takes SNAPSHOT ARCHIVE [PATH]"));
  auto browsed = OpenBrowsed(args);
  if (!browsed) return ReportError(browsed.error());
  TreeArchive* archive = browsed->archive.get();
  const std::string path = args.rest.empty() ? "" : args.rest[0];
  auto self = archive->Stat(path);
  if (!self) return ReportError(self.error());
  std::vector<TreeEntry> entries;
  if (self->type == TreeEntry::Type::kDirectory) {
    auto listed = archive->List(path);
    if (!listed) return ReportError(listed.error());
    entries = std::move(*listed);
  } else {
    entries.push_back(*self);
  }
  if (args.store.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const TreeEntry& e : entries) list.push_back(EntryJson(e));
    PrintJson(BrowseJson(*browsed, std::move(list)));
    return kExitOk;
  }
  for (const TreeEntry& e : entries) PrintLong(e, e.path.substr(e.path.rfind('/') + 1));
  return kExitOk;
}

int RunFind(const BrowseArgs& args) {
  if (args.rest.empty())
    return ReportError(
        Error(ErrorCode::kInvalidArgument, "find takes SNAPSHOT ARCHIVE PATTERN..."));
  auto browsed = OpenBrowsed(args);
  if (!browsed) return ReportError(browsed.error());
  TreeArchive* archive = browsed->archive.get();
  nlohmann::json found = nlohmann::json::array();
  Status st = archive->Find(args.rest, [&](const TreeEntry& e) {
    if (args.store.json)
      found.push_back(EntryJson(e));
    else
      std::printf("%s\n", e.path.c_str());
    return true;
  });
  if (!st) return ReportError(st.error());
  if (args.store.json) PrintJson(BrowseJson(*browsed, std::move(found)));
  return kExitOk;
}

CLI::App* AddBrowseCommand(CLI::App& app, const char* name, const char* help,
                           std::shared_ptr<BrowseArgs> args) {
  CLI::App* cmd = app.add_subcommand(name, help);
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  AddJobsOption(cmd, args->store);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME")->required();
  cmd->add_option("archive", args->archive, "a pxar archive: root.pxar")->required();
  AddNoAdmitFlag(cmd, args->store, "--no-admit",
                 "S3 stores: read through the local cache without adding to it");
  AddKeyOptions(cmd, args->crypt, KeyUse::kRead);
  return cmd;
}

}  // namespace

void RegisterLs(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BrowseArgs>();
  CLI::App* cmd = AddBrowseCommand(
      app, "ls",
      "List a directory of a pxar archive (mode, owner, size, mtime), reading only its metadata",
      args);
  cmd->add_option("path", args->rest, "PATH in the archive (default: its root)")->expected(0, 1);
  cmd->callback([args, &exit_code] { exit_code = RunLs(*args); });
}

void RegisterFind(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BrowseArgs>();
  CLI::App* cmd = AddBrowseCommand(
      app, "find",
      "Print the paths of a pxar archive that match a pattern (a glob; with a '/' anchored at "
      "the root, else any name at any depth), reading only its metadata",
      args);
  cmd->add_option("patterns", args->rest, "PATTERN...")->required();
  cmd->callback([args, &exit_code] { exit_code = RunFind(*args); });
}

}  // namespace chunkvault::cli

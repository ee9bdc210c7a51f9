// chunkvault snapshots [--ns NS] [--json]
#include <algorithm>
#include <cstdio>

#include "chunkvault/size.h"
#include "cli/common.h"

namespace chunkvault::cli {
namespace {

size_t Damaged(const std::vector<SnapshotInfo>& list) {
  return size_t(std::count_if(list.begin(), list.end(),
                              [](const SnapshotInfo& s) { return !s.damage.empty(); }));
}

// The snapshots a server lets us see, as it lists them (PBS's JSON).
int RunRemoteSnapshots(const StoreOptions& opts, const BackupNamespace& ns) {
  auto remote = ConnectRemote(opts);
  if (!remote) return ReportError(remote.error());
  auto list = (*remote)->ListSnapshots(ns);
  if (!list) return ReportError(list.error());
  if (!list->is_array()) return ReportError(Error(ErrorCode::kNetwork, "the server sent no list"));
  if (opts.json) {
    PrintJson(*list);
    return kExitOk;
  }
  std::printf("%-44s %10s  %s\n", "SNAPSHOT", "SIZE", "FILES");
  for (const auto& s : *list) {
    if (!s.is_object()) continue;
    SnapshotRef ref;
    auto type = ParseBackupType(s.value("backup-type", ""));
    if (!type) continue;
    ref.group = BackupGroup{ns, *type, s.value("backup-id", "")};
    ref.time = s.value("backup-time", int64_t{0});
    std::string files;
    if (s.contains("files") && s["files"].is_array())
      for (const auto& f : s["files"])
        if (f.is_object()) files += (files.empty() ? "" : " ") + f.value("filename", "");
    std::printf("%-44s %10s  %s%s\n", ref.ToString().c_str(),
                FormatSize(s.value("size", uint64_t{0})).c_str(), files.c_str(),
                s.value("protected", false) ? " [protected]" : "");
  }
  std::printf("%zu snapshot%s on %s\n", list->size(), list->size() == 1 ? "" : "s",
              (*remote)->Describe().c_str());
  return kExitOk;
}

int RunSnapshots(StoreOptions opts) {
  auto ns = ParseNamespace(opts);
  if (!ns) return ReportError(ns.error());
  if (auto st = ResolveTarget(opts); !st) return ReportError(st.error());
  if (!opts.repository.empty()) return RunRemoteSnapshots(opts, *ns);
  auto ds = OpenStore(opts);
  if (!ds) return ReportError(ds.error());
  auto list = (*ds)->ListSnapshots(*ns, /*recursive=*/false);
  if (!list) return ReportError(list.error());

  if (opts.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const SnapshotInfo& s : *list) {
      nlohmann::json files = nlohmann::json::array();
      for (const ManifestFile& f : s.files)
        files.push_back({{"filename", f.filename},
                         {"crypt-mode", CryptModeName(f.crypt_mode)},
                         {"size", f.size}});
      nlohmann::json item = {{"backup-type", BackupTypeName(s.ref.group.type)},
                             {"backup-id", s.ref.group.id},
                             {"backup-time", s.ref.time},
                             {"snapshot", s.ref.ToString()},
                             {"files", files},
                             {"size", s.size},
                             {"protected", s.is_protected},
                             {"owner", s.owner}};
      if (!s.ref.group.ns.is_root()) item["ns"] = s.ref.group.ns.ToString();
      if (!s.notes.empty()) item["comment"] = s.notes;
      if (!s.verify_state.empty()) item["verification"] = s.verify_state;
      if (!s.damage.empty()) item["damaged"] = s.damage;
      out.push_back(std::move(item));
    }
    PrintJson(out);
    return Damaged(*list) == 0 ? kExitOk : kExitFailure;
  }

  std::printf("%-44s %10s  %s\n", "SNAPSHOT", "SIZE", "FILES");
  for (const SnapshotInfo& s : *list) {
    std::string files;
    for (const ManifestFile& f : s.files) files += (files.empty() ? "" : " ") + f.filename;
    std::string flags;
    if (s.is_protected) flags += " [protected]";
    if (!s.verify_state.empty()) flags += " [verify " + s.verify_state + "]";
    if (!s.damage.empty()) flags += " [DAMAGED: " + s.damage + "]";
    std::printf("%-44s %10s  %s%s\n", s.ref.ToString().c_str(), FormatSize(s.size).c_str(),
                files.c_str(), flags.c_str());
  }
  auto usage = (*ds)->Usage(*list);
  if (!usage) return ReportError(usage.error());
  std::printf(
      "%zu snapshot%s: %s of data, %llu unique chunks holding %s (dedup %s), "
      "%s on disk (compression %s)\n",
      list->size(), list->size() == 1 ? "" : "s", FormatSize(usage->logical_bytes).c_str(),
      (unsigned long long)usage->unique_chunks, FormatSize(usage->unique_bytes).c_str(),
      DedupRatio(usage->logical_bytes, usage->unique_bytes).c_str(),
      FormatSize(usage->stored_bytes).c_str(),
      DedupRatio(usage->unique_bytes, usage->stored_bytes).c_str());
  if (usage->missing_chunks > 0)
    std::printf("warning: %llu referenced chunks are missing; run 'chunkvault verify'\n",
                (unsigned long long)usage->missing_chunks);
  if (size_t damaged = Damaged(*list); damaged > 0) {
    std::fprintf(stderr, "chunkvault: %zu snapshot%s damaged (marked DAMAGED above)\n", damaged,
                 damaged == 1 ? " is" : "s are");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterSnapshots(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<StoreOptions>();
  CLI::App* cmd = app.add_subcommand("snapshots", "List snapshots with sizes and the dedup ratio");
  AddStoreOptions(cmd, *opts, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  cmd->callback([opts, &exit_code] { exit_code = RunSnapshots(*opts); });
}

}  // namespace chunkvault::cli

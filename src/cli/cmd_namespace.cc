// chunkvault namespace list [PARENT] | namespace create NS
// In a store or (--repository) on a server, as proxmox-backup-client's
// namespace commands.
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct NamespaceArgs {
  StoreOptions store;
  std::string ns;  // list: the parent (default root); create: the new one
};

int RunList(NamespaceArgs args) {
  auto parent = BackupNamespace::Parse(args.ns);
  if (!parent) return ReportError(parent.error());
  if (auto st = ResolveTarget(args.store); !st) return ReportError(st.error());
  Result<std::vector<BackupNamespace>> list = Fail(ErrorCode::kInternal, "no listing");
  if (!args.store.repository.empty()) {
    auto remote = ConnectRemote(args.store);
    if (!remote) return ReportError(remote.error());
    list = (*remote)->ListNamespaces(*parent);
  } else {
    auto ds = OpenStore(args.store);
    if (!ds) return ReportError(ds.error());
    list = (*ds)->ListNamespaces(*parent, /*recursive=*/true);
    if (list) list->insert(list->begin(), *parent);
  }
  if (!list) return ReportError(list.error());
  if (args.store.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const BackupNamespace& ns : *list) out.push_back({{"ns", ns.ToString()}});
    PrintJson(out);
  } else {
    for (const BackupNamespace& ns : *list)
      std::printf("%s\n", ns.is_root() ? "(root)" : ns.ToString().c_str());
  }
  return kExitOk;
}

int RunCreate(NamespaceArgs args) {
  auto ns = BackupNamespace::Parse(args.ns);
  if (!ns) return ReportError(ns.error());
  if (ns->is_root())
    return ReportError(Error(ErrorCode::kInvalidArgument, "the root namespace always exists"));
  if (auto st = ResolveTarget(args.store); !st) return ReportError(st.error());
  Status st;
  if (!args.store.repository.empty()) {
    auto remote = ConnectRemote(args.store);
    if (!remote) return ReportError(remote.error());
    st = (*remote)->CreateNamespace(*ns);
  } else {
    auto ds = OpenStore(args.store);
    if (!ds) return ReportError(ds.error());
    st = (*ds)->CreateNamespace(*ns);
  }
  if (!st) return ReportError(st.error());
  if (args.store.json)
    PrintJson({{"created", ns->ToString()}});
  else
    std::printf("created namespace %s\n", ns->ToString().c_str());
  return kExitOk;
}

}  // namespace

void RegisterNamespace(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("namespace", "List or create namespaces");
  cmd->require_subcommand(1);
  auto list_args = std::make_shared<NamespaceArgs>();
  CLI::App* list = cmd->add_subcommand("list", "The namespaces below PARENT (default: all)");
  AddStoreOptions(list, list_args->store, /*with_ns=*/false, /*with_json=*/true,
                  /*remote_ok=*/true);
  list->add_option("parent", list_args->ns, "Namespace, e.g. 'site' (default: the root)");
  list->callback([list_args, &exit_code] { exit_code = RunList(*list_args); });
  auto create_args = std::make_shared<NamespaceArgs>();
  CLI::App* create =
      cmd->add_subcommand("create", "Create NS (its parent must exist on a server, as in PBS)");
  AddStoreOptions(create, create_args->store, /*with_ns=*/false, /*with_json=*/true,
                  /*remote_ok=*/true);
  create->add_option("ns", create_args->ns, "Namespace, e.g. 'site/prod'")->required();
  create->callback([create_args, &exit_code] { exit_code = RunCreate(*create_args); });
}

}  // namespace chunkvault::cli

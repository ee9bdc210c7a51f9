// chunkvault forget SNAPSHOT
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct ForgetArgs {
  StoreOptions store;
  std::string snapshot;
};

int RunForget(ForgetArgs args) {
  auto snap = ParseSnapshot(args.store, args.snapshot);
  if (!snap) return ReportError(snap.error());
  if (auto st = ResolveTarget(args.store); !st) return ReportError(st.error());
  Status st;
  if (!args.store.repository.empty()) {
    auto remote = ConnectRemote(args.store);
    if (!remote) return ReportError(remote.error());
    st = (*remote)->Forget(*snap);
  } else {
    auto ds = OpenStore(args.store);
    if (!ds) return ReportError(ds.error());
    st = (*ds)->Forget(*snap);
  }
  if (!st) {
    Error e = std::move(st).error();
    if (e.code() == ErrorCode::kProtected) e.Context("unprotect it first");
    return ReportError(e);
  }
  if (args.store.json) PrintJson({{"removed", snap->ToString()}});
  else std::printf("removed %s\n", snap->ToString().c_str());
  return kExitOk;
}

}  // namespace

void RegisterForget(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ForgetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forget", "Remove a snapshot (refused for protected ones); its chunks stay until gc");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME")->required();
  cmd->callback([args, &exit_code] { exit_code = RunForget(*args); });
}

}  // namespace chunkvault::cli

// chunkvault protect SNAPSHOT / chunkvault unprotect SNAPSHOT
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct ProtectArgs {
  StoreOptions store;
  std::string snapshot;
};

int RunProtect(const ProtectArgs& args, bool on) {
  auto snap = ParseSnapshot(args.store, args.snapshot);
  if (!snap) return ReportError(snap.error());
  auto ds = OpenStore(args.store);
  if (!ds) return ReportError(ds.error());
  if (auto st = (*ds)->SetProtected(*snap, on); !st) return ReportError(st.error());
  if (args.store.json) PrintJson({{"snapshot", snap->ToString()}, {"protected", on}});
  else std::printf("%s is %s\n", snap->ToString().c_str(), on ? "protected" : "not protected");
  return kExitOk;
}

void Register(CLI::App& app, int& exit_code, const char* name, const char* help, bool on) {
  auto args = std::make_shared<ProtectArgs>();
  CLI::App* cmd = app.add_subcommand(name, help);
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME")->required();
  cmd->callback([args, &exit_code, on] { exit_code = RunProtect(*args, on); });
}

}  // namespace

void RegisterProtect(CLI::App& app, int& exit_code) {
  Register(app, exit_code, "protect", "Protect a snapshot from forget and prune", true);
  Register(app, exit_code, "unprotect", "Remove a snapshot's protection", false);
}

}  // namespace chunkvault::cli

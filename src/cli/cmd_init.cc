// chunkvault init --store PATH [--name NAME] [--sync-level LEVEL]
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct InitArgs {
  StoreOptions store;
  InitOptions init;
};

int RunInit(const InitArgs& args) {
  auto ds = Datastore::Init(Env::Default(), args.store.store, args.init);
  if (!ds) return ReportError(ds.error());
  if (args.store.json) {
    PrintJson({{"store", (*ds)->path()}, {"name", (*ds)->name()}});
  } else {
    std::printf("created datastore '%s' in %s\n", (*ds)->name().c_str(), (*ds)->path().c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "Create a datastore");
  AddStoreOptions(cmd, args->store, /*with_ns=*/false, /*with_json=*/true);
  cmd->add_option("--name", args->init.name,
                  "Datastore name, the bucket prefix on S3 (default: the directory's name)");
  cmd->add_option("--sync-level", args->init.sync_level,
                  "none | file (fsync every file) | filesystem (syncfs per backup, default)")
      ->check(CLI::IsMember({"none", "file", "filesystem"}));
  cmd->callback([args, &exit_code] { exit_code = RunInit(*args); });
}

}  // namespace chunkvault::cli

// chunkvault prune [TYPE/ID] --keep-last N --keep-hourly N --keep-daily N
//                  --keep-weekly N --keep-monthly N --keep-yearly N
//                  [--dry-run] [--ns NS] [--json]
#include <charconv>
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct PruneArgs {
  StoreOptions store;
  std::string group;
  PruneOptions prune;
  bool dry_run = false;
};

int RunPrune(const PruneArgs& args) {
  auto ns = ParseNamespace(args.store);
  if (!ns) return ReportError(ns.error());
  std::optional<BackupGroup> group;
  if (!args.group.empty()) {
    auto parsed = ParseGroup(args.store, args.group);
    if (!parsed) return ReportError(parsed.error());
    group = *parsed;
  }
  if (!args.prune.any())
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "prune needs at least one --keep-* option (without, it would keep "
                             "everything)"));
  StoreOptions where = args.store;
  if (auto st = ResolveTarget(where); !st) return ReportError(st.error());
  Result<PruneReport> report = Fail(ErrorCode::kInternal, "no prune");
  if (!where.repository.empty()) {
    auto remote = ConnectRemote(where);
    if (!remote) return ReportError(remote.error());
    report = (*remote)->Prune(*ns, group, args.prune, args.dry_run);
  } else {
    auto ds = OpenStore(where);
    if (!ds) return ReportError(ds.error());
    report = (*ds)->Prune(*ns, group, args.prune, args.dry_run);
  }
  if (!report) return ReportError(report.error());
  if (args.store.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const PruneEntry& e : report->entries) {
      nlohmann::json j = {{"snapshot", e.snapshot.ToString()}, {"mark", PruneMarkName(e.mark)}};
      if (!e.error.empty()) j["error"] = e.error;
      if (!e.damage.empty()) j["damage"] = e.damage;
      list.push_back(j);
    }
    PrintJson({{"dry-run", report->dry_run},
               {"ns", ns->ToString()},
               {"removed", report->removed},
               {"snapshots", list}});
  } else {
    for (const PruneEntry& e : report->entries) {
      std::printf("%-12s %s\n", PruneMarkName(e.mark), e.snapshot.ToString().c_str());
      if (!e.error.empty()) std::fprintf(stderr, "error: %s\n", e.error.c_str());
      if (!e.damage.empty())
        std::fprintf(stderr, "warning: %s is damaged (kept, not counted by the rules): %s\n",
                     e.snapshot.ToString().c_str(), e.damage.c_str());
    }
    std::fprintf(stderr, "%s %llu snapshots; their chunks go at the next gc\n",
                 report->dry_run ? "would remove" : "removed", (unsigned long long)report->removed);
  }
  return report->ok() ? kExitOk : kExitFailure;
}

// PBS's minimum for every --keep-* (0 would keep nothing by that rule:
// leave the option out instead), said plainly where CLI11's range check
// would print its bounds as doubles.
CLI::Validator AtLeastOne() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        uint64_t n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || n == 0)
          return "'" + value + "' is not a whole number of at least 1 (leave the option out to "
                               "keep nothing by it)";
        return "";
      },
      "N>=1");
}

}  // namespace

void RegisterPrune(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "Remove the snapshots of each group (of --ns, or only TYPE/ID) that the --keep-* rules do "
      "not keep (PBS semantics); protected snapshots always stay");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true, /*remote_ok=*/true);
  cmd->add_option("group", args->group, "TYPE/ID (default: every group of the namespace)");
  struct Keep {
    const char* flag;
    std::optional<uint64_t>* value;
    const char* help;
  };
  for (const Keep& k :
       {Keep{"--keep-last", &args->prune.keep_last, "Keep the N newest"},
        Keep{"--keep-hourly", &args->prune.keep_hourly, "The newest of N hours"},
        Keep{"--keep-daily", &args->prune.keep_daily, "The newest of N days"},
        Keep{"--keep-weekly", &args->prune.keep_weekly, "The newest of N ISO weeks"},
        Keep{"--keep-monthly", &args->prune.keep_monthly, "The newest of N months"},
        Keep{"--keep-yearly", &args->prune.keep_yearly, "The newest of N years"}})
    cmd->add_option(k.flag, *k.value, k.help)->check(AtLeastOne());
  cmd->add_flag("--dry-run", args->dry_run, "Only show what would be kept and removed");
  cmd->callback([args, &exit_code] { exit_code = RunPrune(*args); });
}

}  // namespace chunkvault::cli

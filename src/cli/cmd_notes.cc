// chunkvault notes SNAPSHOT|GROUP [--set TEXT]
// A snapshot's notes live in its manifest ("unprotected.notes"), a group's
// in <type>/<id>/notes, as in PBS.
#include <cstdio>

#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct NotesArgs {
  StoreOptions store;
  std::string target;
  std::optional<std::string> set;
};

int RunNotes(const NotesArgs& args) {
  auto ns = ParseNamespace(args.store);
  if (!ns) return ReportError(ns.error());
  auto ds = OpenStore(args.store);
  if (!ds) return ReportError(ds.error());
  // TYPE/ID is a group, TYPE/ID/TIME a snapshot.
  const bool is_group = std::count(args.target.begin(), args.target.end(), '/') == 1;
  Result<std::string> notes;
  if (is_group) {
    auto parsed = ParseGroup(args.store, args.target);
    if (!parsed) return ReportError(parsed.error());
    const BackupGroup& group = *parsed;
    if (args.set) {
      if (auto st = (*ds)->SetGroupNotes(group, *args.set); !st) return ReportError(st.error());
    }
    notes = (*ds)->GetGroupNotes(group);
  } else {
    auto snap = SnapshotRef::Parse(*ns, args.target);
    if (!snap) return ReportError(snap.error());
    if (args.set) {
      if (auto st = (*ds)->SetNotes(*snap, *args.set); !st) return ReportError(st.error());
    }
    notes = (*ds)->GetNotes(*snap);
  }
  if (!notes) return ReportError(notes.error());
  if (args.store.json) PrintJson({{"target", args.target}, {"notes", *notes}});
  else if (!args.set) std::printf("%s%s", notes->c_str(),
                                  notes->empty() || notes->back() == '\n' ? "" : "\n");
  return kExitOk;
}

}  // namespace

void RegisterNotes(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<NotesArgs>();
  CLI::App* cmd = app.add_subcommand("notes", "Show or set the notes of a snapshot or group");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/true);
  cmd->add_option("target", args->target, "TYPE/ID/TIME (a snapshot) or TYPE/ID (a group)")
      ->required();
  cmd->add_option("--set", args->set, "Replace the notes with TEXT ('' clears them)");
  cmd->callback([args, &exit_code] { exit_code = RunNotes(*args); });
}

}  // namespace chunkvault::cli

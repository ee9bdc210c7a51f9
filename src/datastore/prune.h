// Which snapshots of a group a prune keeps, with PBS's semantics
// (pbs-datastore prune.rs), as a pure function of the list and the
// options:
//
//   - snapshots are taken newest first;
//   - the newest incomplete snapshot (no manifest: maybe still running) is
//     kept if no complete one is newer; every other incomplete one goes;
//   - each --keep-X option, in the order last, hourly, daily, weekly,
//     monthly, yearly, keeps the newest snapshot of each of the N most
//     recent periods (hour, day, ISO week, month, year in local time) that
//     no earlier option already covers; protected snapshots met on the way
//     are kept without counting;
//   - without any option everything is kept; what no option keeps goes.
#pragma once

#include <cstdint>
#include <vector>

#include "chunkvault/prune.h"

namespace chunkvault {

struct PruneCandidate {
  int64_t time = 0;  // the snapshot's backup time (unix seconds)
  bool complete = true;
  bool is_protected = false;
  bool damaged = false;  // kept and not counted, as a protected one
};

// One mark per candidate, in the order given.
std::vector<PruneMark> ComputePrune(const std::vector<PruneCandidate>& snapshots,
                                    const PruneOptions& options);

}  // namespace chunkvault

// Prune: which snapshots of a group to keep, with PBS's rules (newest
// first, each option keeps the newest snapshot of each of its N most
// recent periods not already covered; the rules are written in
// src/datastore/prune.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"

namespace chunkvault {

struct PruneOptions {
  std::optional<uint64_t> keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
      keep_yearly;
  bool any() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly;
  }
};

// A damaged snapshot (SnapshotInfo::damage) is, like a protected one,
// neither removed by the rules nor counted by them: the newest backups
// that can be restored are what the rules keep, and what is damaged is
// left for someone to look at (and forget).
enum class PruneMark { kKeep, kKeepPartial, kProtected, kDamaged, kRemove };
// "keep", "keep-partial", "protected", "damaged", "remove"
const char* PruneMarkName(PruneMark mark);

struct PruneEntry {
  SnapshotRef snapshot;
  PruneMark mark = PruneMark::kKeep;
  std::string error;   // a snapshot to remove that could not be (busy...)
  std::string damage;  // kDamaged: why
};

struct PruneReport {
  bool dry_run = false;
  std::vector<PruneEntry> entries;  // every snapshot of the groups, newest first
  uint64_t removed = 0;             // snapshots removed (dry run: to remove)
  bool ok() const {
    for (const PruneEntry& e : entries)
      if (!e.error.empty()) return false;
    return true;
  }
};

}  // namespace chunkvault

#include "datastore/prune.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <numeric>
#include <set>

#include "datastore/datastore_impl.h"
#include "store/snapshot_store.h"

namespace chunkvault {

const char* PruneMarkName(PruneMark mark) {
  switch (mark) {
    case PruneMark::kKeep:
      return "keep";
    case PruneMark::kKeepPartial:
      return "keep-partial";
    case PruneMark::kProtected:
      return "protected";
    case PruneMark::kDamaged:
      return "damaged";
    case PruneMark::kRemove:
      return "remove";
  }
  return "?";
}

namespace {

// The period a snapshot falls in, as a string, in local time (as PBS).
std::string Period(int64_t time, const char* format) {
  std::time_t t = time;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::vector<PruneMark> ComputePrune(const std::vector<PruneCandidate>& snapshots,
                                    const PruneOptions& options) {
  const size_t n = snapshots.size();
  std::vector<std::optional<PruneMark>> mark(n);
  // Newest first.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return snapshots[a].time > snapshots[b].time; });

  bool keep_unfinished = true;
  for (size_t i : order) {
    if (snapshots[i].complete) {
      keep_unfinished = false;
    } else {
      mark[i] = keep_unfinished ? PruneMark::kKeepPartial : PruneMark::kRemove;
      keep_unfinished = false;
    }
  }

  auto select = [&](std::optional<uint64_t> keep, const std::function<std::string(int64_t)>& id) {
    if (!keep) return;
    std::set<std::string> already, included;
    for (size_t i : order)
      if (mark[i] == PruneMark::kKeep) already.insert(id(snapshots[i].time));
    for (size_t i : order) {
      if (mark[i]) continue;
      if (snapshots[i].is_protected || snapshots[i].damaged) {
        mark[i] = snapshots[i].is_protected ? PruneMark::kProtected : PruneMark::kDamaged;
        continue;
      }
      const std::string sel = id(snapshots[i].time);
      if (already.count(sel)) continue;
      if (!included.count(sel)) {
        if (included.size() >= *keep) break;
        included.insert(sel);
        mark[i] = PruneMark::kKeep;
      } else {
        mark[i] = PruneMark::kRemove;
      }
    }
  };
  select(options.keep_last, [](int64_t t) { return std::to_string(t); });
  select(options.keep_hourly, [](int64_t t) { return Period(t, "%Y/%m/%d/%H"); });
  select(options.keep_daily, [](int64_t t) { return Period(t, "%Y/%m/%d"); });
  select(options.keep_weekly, [](int64_t t) { return Period(t, "%G/%V"); });
  select(options.keep_monthly, [](int64_t t) { return Period(t, "%Y/%m"); });
  select(options.keep_yearly, [](int64_t t) { return Period(t, "%Y"); });

  std::vector<PruneMark> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (snapshots[i].is_protected)
      out[i] = PruneMark::kProtected;
    else if (snapshots[i].damaged)
      out[i] = PruneMark::kDamaged;
    else if (!options.any())
      out[i] = PruneMark::kKeep;  // nothing asked: keep all
    else
      out[i] = mark[i].value_or(PruneMark::kRemove);
  }
  return out;
}

Result<PruneReport> DatastoreImpl::Prune(const BackupNamespace& ns,
                                         const std::optional<BackupGroup>& group,
                                         const PruneOptions& options, bool dry_run) {
  PruneReport report;
  report.dry_run = dry_run;
  std::vector<BackupGroup> groups;
  if (group) {
    groups.push_back(*group);
  } else {
    CV_ASSIGN_OR_RETURN(groups, snapshots_->ListGroups(ns));
  }
  for (const BackupGroup& g : groups) {
    CV_ASSIGN_OR_RETURN(auto list, snapshots_->ListSnapshots(g));
    std::sort(list.begin(), list.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
      return a.ref.time > b.ref.time;
    });
    std::vector<PruneCandidate> candidates;
    std::vector<std::string> damage;
    for (const SnapshotEntry& e : list) {
      damage.push_back(e.complete ? DamageOf(e.ref) : "");
      candidates.push_back({e.ref.time, e.complete, e.is_protected, !damage.back().empty()});
    }
    const std::vector<PruneMark> marks = ComputePrune(candidates, options);
    for (size_t i = 0; i < list.size(); ++i) {
      PruneEntry entry{list[i].ref, marks[i], "", marks[i] == PruneMark::kDamaged ? damage[i] : ""};
      if (marks[i] == PruneMark::kRemove) {
        if (!dry_run) {
          if (auto st = Forget(list[i].ref); !st) entry.error = st.error().message();
        }
        if (entry.error.empty()) ++report.removed;
      }
      report.entries.push_back(std::move(entry));
    }
  }
  return report;
}

}  // namespace chunkvault

// Garbage collection: the stages of gc_stages.h, in order, under .gc-lock.
#include <set>

#include "cache/chunk_cache.h"
#include "datastore/datastore_impl.h"
#include "datastore/gc_stages.h"
#include "datastore/writers.h"
#include "util/crash_point.h"

namespace chunkvault {

Result<GcReport> DatastoreImpl::GarbageCollect(const GcOptions& options, GcObserver* observer) {
  if (options.atime_cutoff_minutes < 0 || options.atime_cutoff_minutes > 100LL * 366 * 24 * 60)
    return Fail(ErrorCode::kInvalidArgument,
                "the atime cutoff must be between 0 and 100 years, not " +
                    std::to_string(options.atime_cutoff_minutes) + " minutes");
  auto gc_lock = env_->Lock(JoinPath(path_, ".gc-lock"), LockMode::kExclusive, /*wait=*/false);
  if (!gc_lock) {
    if (gc_lock.error().code() == ErrorCode::kBusy)
      return Fail(ErrorCode::kBusy, "another garbage collection is running on " + path_);
    return std::unexpected(gc_lock.error());
  }
  GcReport report;
  report.dry_run = options.dry_run;
  const BackendCounts requests_before = requests();
  // In nanoseconds: with a cutoff of 0 minutes, a chunk last used a moment
  // before this run is unused, one used a moment after is not. Moved back
  // to the start of the oldest backup still running.
  int64_t cutoff = env_->NowNanos() - options.atime_cutoff_minutes * 60 * 1'000'000'000;
  CV_ASSIGN_OR_RETURN(auto oldest_writer, OldestWriterStart(env_, path_));
  if (oldest_writer && *oldest_writer < cutoff) cutoff = *oldest_writer;
  report.cutoff = cutoff / 1'000'000'000;

  CV_ASSIGN_OR_RETURN(GcListing listing, GcListing::Of(backend_.get(), key_prefix()));
  CV_ASSIGN_OR_RETURN(auto snapshots, snapshots_->ListSnapshotsIn(BackupNamespace{}, true));
  GcMarkInput mark;
  mark.snapshots = snapshots_.get();
  mark.entries = &snapshots;
  mark.chunks = chunks_.get();
  mark.listing = backend_ ? &listing : nullptr;
  mark.dry_run = options.dry_run;
  mark.damage_of = [this](const SnapshotRef& snap) { return DamageOf(snap); };
  mark.observer = observer;
  CV_ASSIGN_OR_RETURN(auto referenced, GcMark(mark, report));
  CrashPoint("gc-marked");

  GcPlanInput plan_in;
  plan_in.env = env_;
  plan_in.chunks = chunks_.get();
  plan_in.listing = mark.listing;
  plan_in.referenced = &referenced;
  plan_in.cutoff_ns = cutoff;
  std::set<std::string> dirs = {path_, JoinPath(path_, ".cache")};
  for (const SnapshotEntry& snap : snapshots) {
    dirs.insert(snapshots_->Path(snap.ref.group));
    dirs.insert(snapshots_->Path(snap.ref));
  }
  plan_in.metadata_dirs.assign(dirs.begin(), dirs.end());
  CV_ASSIGN_OR_RETURN(GcPlan plan, GcPlanSweep(plan_in, report));

  if (options.dry_run) {
    GcCountPlanned(plan, report);
  } else {
    GcSweepInput sweep;
    sweep.env = env_;
    sweep.chunks = chunks_.get();
    if (backend_) {
      CV_ASSIGN_OR_RETURN(sweep.cache, Cache());
    }
    sweep.backend = backend_.get();
    sweep.key_prefix = key_prefix();
    sweep.dirs_per_batch = options.dirs_per_batch;
    sweep.observer = observer;
    CV_RETURN_IF_ERROR(GcSweep(plan, sweep, report));
  }
  if (backend_) report.requests = requests() - requests_before;
  return report;
}

}  // namespace chunkvault

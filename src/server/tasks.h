// Long work a REST call starts (garbage collection, verify) as PBS runs it:
// a task with a UPID the client can ask about
// (GET /api2/json/nodes/<node>/tasks/<upid>/status).
//
// Thread-safety: every method may be called from any thread. The
// destructor waits for running tasks (GC and verify cannot be cut short
// without leaving work for their next run, which is safe but wasteful).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chunkvault/status.h"
#include "server/auth_id.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {

struct TaskInfo {
  std::string upid;
  std::string type;  // "garbage_collection", "verify"
  std::string store;
  std::string auth_id;
  int64_t start = 0, end = 0;  // epoch seconds; end 0 while running
  bool running = true;
  std::string exit_status;  // "OK" or the error, once stopped
  nlohmann::json result;    // the report, once stopped
};

class TaskRegistry {
 public:
  using Log = std::function<void(const std::string&)>;
  explicit TaskRegistry(Log log) : log_(std::move(log)) {}
  ~TaskRegistry();

  // Runs `work` on a thread of its own; returns the task's UPID.
  std::string Start(const std::string& type, const std::string& store, const AuthId& who,
                    std::function<Result<nlohmann::json>()> work);
  std::optional<TaskInfo> Find(const std::string& upid) const;
  // The newest task of `type` on `store`.
  std::optional<TaskInfo> Last(const std::string& type, const std::string& store) const;
  // Tasks started, and those that failed, by type (for metrics).
  std::map<std::string, std::pair<uint64_t, uint64_t>> Counts() const;

 private:
  Log log_;
  mutable std::mutex mu_;
  std::map<std::string, TaskInfo> tasks_ CV_GUARDED_BY(mu_);  // by UPID, the last 1000
  std::vector<std::string> order_ CV_GUARDED_BY(mu_);
  std::map<std::string, std::pair<uint64_t, uint64_t>> counts_ CV_GUARDED_BY(mu_);
  uint64_t next_ CV_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::thread> threads_ CV_GUARDED_BY(mu_);  // by UPID
};

}  // namespace chunkvault::server

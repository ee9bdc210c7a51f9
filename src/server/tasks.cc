#include "server/tasks.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace chunkvault::server {
namespace {

constexpr size_t kKeptTasks = 1000;

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

}  // namespace

TaskRegistry::~TaskRegistry() {
  std::map<std::string, std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& [upid, t] : threads) t.join();
}

std::string TaskRegistry::Start(const std::string& type, const std::string& store,
                                const AuthId& who, std::function<Result<nlohmann::json>()> work) {
  const int64_t now = std::time(nullptr);
  std::string upid;
  {
    std::lock_guard lock(mu_);
    // PBS's UPID shape: UPID:node:pid:pstart:task:start:type:id:auth-id:
    char head[160];
    std::snprintf(head, sizeof head, "UPID:%s:%08X:00000000:%08llX:%08llX:", Hostname().c_str(),
                  static_cast<unsigned>(::getpid()), static_cast<unsigned long long>(next_++),
                  static_cast<unsigned long long>(now));
    upid = head + type + ":" + store + ":" + who.ToString() + ":";
    TaskInfo info;
    info.upid = upid;
    info.type = type;
    info.store = store;
    info.auth_id = who.ToString();
    info.start = now;
    tasks_[upid] = info;
    order_.push_back(upid);
    counts_[type].first += 1;
    // Forget the oldest finished tasks beyond the last 1000.
    while (order_.size() > kKeptTasks && !tasks_[order_.front()].running) {
      tasks_.erase(order_.front());
      order_.erase(order_.begin());
    }
    // Threads of stopped tasks are done but for their return: join them.
    for (auto it = threads_.begin(); it != threads_.end();) {
      auto t = tasks_.find(it->first);
      if (t != tasks_.end() && t->second.running) {
        ++it;
        continue;
      }
      it->second.join();
      it = threads_.erase(it);
    }
    threads_[upid] = std::thread([this, upid, work = std::move(work)] {
      auto result = work();
      std::lock_guard done(mu_);
      TaskInfo& t = tasks_[upid];
      t.running = false;
      t.end = std::time(nullptr);
      if (result) {
        t.exit_status = "OK";
        t.result = std::move(*result);
      } else {
        t.exit_status = result.error().message();
        counts_[t.type].second += 1;
      }
      if (log_)
        log_("task " + t.type + " on " + t.store + " by " + t.auth_id + ": " + t.exit_status);
    });
  }
  return upid;
}

std::optional<TaskInfo> TaskRegistry::Find(const std::string& upid) const {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(upid);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

std::optional<TaskInfo> TaskRegistry::Last(const std::string& type,
                                           const std::string& store) const {
  std::lock_guard lock(mu_);
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    auto t = tasks_.find(*it);
    if (t != tasks_.end() && t->second.type == type && t->second.store == store) return t->second;
  }
  return std::nullopt;
}

std::map<std::string, std::pair<uint64_t, uint64_t>> TaskRegistry::Counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace chunkvault::server

// A fixed set of worker threads fed through a bounded queue.
//
// Submit() blocks while `max_queued` tasks are waiting, which bounds the
// memory held by queued work (chunks are up to 16 MiB each). Tasks must not
// throw. Thread-safety: Submit and WaitIdle may be called from any thread
// other than the workers themselves.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/thread_annotations.h"

namespace chunkvault {

class ThreadPool {
 public:
  // `nice`: the workers run this much nicer than the thread creating the
  // pool (Linux keeps a niceness per thread), so that a serial stage
  // feeding them is not kept waiting behind them for a CPU; 0 = as nice.
  ThreadPool(size_t threads, size_t max_queued, int nice = 0);
  ~ThreadPool();  // finishes queued tasks, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task) CV_EXCLUDES(mu_);
  // Returns once the queue is empty and no task is running.
  void WaitIdle() CV_EXCLUDES(mu_);

  size_t size() const { return workers_.size(); }
  size_t max_queued() const { return max_queued_; }

  // Number of workers to use when the user says "auto": one per core.
  static size_t DefaultThreads();

 private:
  void WorkerLoop();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable work_ready_;   // a task was queued, or stopping
  std::condition_variable space_ready_;  // the queue shrank
  std::condition_variable idle_;         // queue empty and nothing running
  std::deque<std::function<void()>> queue_ CV_GUARDED_BY(mu_);
  size_t running_ CV_GUARDED_BY(mu_) = 0;
  bool stopping_ CV_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace chunkvault

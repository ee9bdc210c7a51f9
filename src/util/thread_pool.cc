#include "util/thread_pool.h"

#include <sys/resource.h>

#include <cerrno>

namespace chunkvault {

ThreadPool::ThreadPool(size_t threads, size_t max_queued, int nice)
    : max_queued_(max_queued == 0 ? 1 : max_queued) {
  if (threads == 0) threads = 1;
  // A new thread starts as nice as its creator; PRIO_PROCESS with who = 0
  // names the calling thread on Linux. Becoming nicer needs no privilege
  // (the kernel caps it at 19); should it fail, the workers run as before.
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, 0);
  const bool renice = nice != 0 && errno == 0;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this, renice, target = base + nice] {
      if (renice) ::setpriority(PRIO_PROCESS, 0, target);
      WorkerLoop();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

size_t ThreadPool::DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::unique_lock lock(mu_);
    space_ready_.wait(lock, [&] { return queue_.size() < max_queued_; });
    queue_.push_back(std::move(task));
  }
  work_ready_.notify_one();
}

void ThreadPool::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
}

void ThreadPool::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    space_ready_.notify_one();
    lock.unlock();
    task();
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

}  // namespace chunkvault

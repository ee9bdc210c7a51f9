#include "backend/wrappers.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

namespace chunkvault {

WaitClock WaitClock::Real() {
  WaitClock c;
  c.monotonic_seconds = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  c.sleep = [](std::chrono::microseconds d) { std::this_thread::sleep_for(d); };
  c.random_unit = [] {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0, 1)(rng);
  };
  return c;
}

// AroundBackend.

namespace {

constexpr uint64_t kKeysPerRequest = 1000;  // ListObjectsV2 pages, DeleteObjects batches

uint64_t Batches(uint64_t keys) { return (keys + kKeysPerRequest - 1) / kKeysPerRequest; }

// Runs `attempt`, one inner call that returns a value, through `around`
// (an Around() of the wrapper): the value of the last attempt, or the
// error `around` ends with.
template <class RunAround, class Attempt>
auto KeepingTheValue(const RunAround& around, const Attempt& attempt) -> decltype(attempt()) {
  std::optional<decltype(attempt())> last;
  Status st = around([&]() -> Status {
    last = attempt();
    if (*last) return {};
    return std::unexpected(last->error());
  });
  if (!st) return std::unexpected(std::move(st).error());
  return std::move(*last);
}

}  // namespace

Status AroundBackend::Check() {
  Call call{Op::kCheck};
  return Around(call, [&] { return inner_->Check(); });
}

Result<bool> AroundBackend::Put(const std::string& key, ByteView data, PutMode mode) {
  Call call{Op::kPut};
  call.bytes_up = data.size();
  return KeepingTheValue([&](const auto& attempt) { return Around(call, attempt); },
                         [&] { return inner_->Put(key, data, mode); });
}

Result<Bytes> AroundBackend::Get(const std::string& key) {
  Call call{Op::kGet};
  return KeepingTheValue([&](const auto& attempt) { return Around(call, attempt); },
                         [&] {
                           auto r = inner_->Get(key);
                           call.bytes_down = r ? r->size() : 0;
                           return r;
                         });
}

Result<Bytes> AroundBackend::GetRange(const std::string& key, uint64_t offset, uint64_t length) {
  Call call{Op::kGet};
  return KeepingTheValue([&](const auto& attempt) { return Around(call, attempt); },
                         [&] {
                           auto r = inner_->GetRange(key, offset, length);
                           call.bytes_down = r ? r->size() : 0;
                           return r;
                         });
}

Result<std::optional<ObjectInfo>> AroundBackend::Head(const std::string& key) {
  Call call{Op::kHead};
  return KeepingTheValue([&](const auto& attempt) { return Around(call, attempt); },
                         [&] { return inner_->Head(key); });
}

Status AroundBackend::Delete(const std::string& key) {
  Call call{Op::kDelete};
  return Around(call, [&] { return inner_->Delete(key); });
}

Status AroundBackend::DeleteMany(const std::vector<std::string>& keys) {
  Call call{Op::kDelete};
  call.requests = Batches(keys.size());
  return Around(call, [&] { return inner_->DeleteMany(keys); });
}

Status AroundBackend::List(const std::string& prefix,
                           const std::function<Status(const ObjectInfo&)>& fn) {
  Call call{Op::kList};
  std::optional<std::string> last;  // the last key `fn` was given
  Status fn_error;
  Status listed = Around(call, [&]() -> Status {
    uint64_t keys = 0;
    Status st = inner_->List(prefix, [&](const ObjectInfo& o) -> Status {
      ++keys;
      if (last && o.key <= *last) return {};  // seen before this attempt
      fn_error = fn(o);
      // Not kNetwork: no wrapper tries it again.
      if (!fn_error) return Fail(ErrorCode::kInternal, "the listing's reader stopped it");
      last = o.key;
      return {};
    });
    call.requests = std::max<uint64_t>(1, Batches(keys));  // an empty page is asked for too
    return st;
  });
  if (!fn_error) return fn_error;
  return listed;
}

Status AroundBackend::Copy(const std::string& from, const std::string& to) {
  Call call{Op::kCopy};
  return Around(call, [&] { return inner_->Copy(from, to); });
}

// CountingBackend.

BackendCounts CountingBackend::counts() const {
  return {get_, put_, head_, list_, del_, copy_, up_, down_, errors_};
}

Status CountingBackend::Around(Call& call, const std::function<Status()>& attempt) {
  Status st = attempt();
  // By Op: kCheck, kPut, kGet, kHead, kDelete, kList, kCopy.
  std::atomic<uint64_t>* const counters[] = {&head_, &put_, &get_, &head_, &del_, &list_, &copy_};
  std::atomic<uint64_t>* counter = counters[static_cast<int>(call.op)];
  counter->fetch_add(call.requests, std::memory_order_relaxed);
  up_.fetch_add(call.bytes_up, std::memory_order_relaxed);
  down_.fetch_add(call.bytes_down, std::memory_order_relaxed);
  if (!st && st.error().code() != ErrorCode::kNotFound)
    errors_.fetch_add(1, std::memory_order_relaxed);
  return st;
}

CountedBackend CountRequests(std::shared_ptr<Backend> backend) {
  auto counter = std::make_shared<CountingBackend>(std::move(backend));
  return CountedBackend{counter, counter};
}

// RetryingBackend.

RetryingBackend::RetryingBackend(std::shared_ptr<Backend> inner, RetryPolicy policy,
                                 WaitClock clock, std::function<void(const std::string&)> on_retry)
    : AroundBackend(std::move(inner)),
      policy_([&] {
        policy.max_attempts = std::max(policy.max_attempts, 1);
        return policy;
      }()),
      clock_(std::move(clock)),
      on_retry_(std::move(on_retry)) {}

std::chrono::microseconds RetryingBackend::Backoff(int failures) {
  double delay = double(policy_.base_delay.count()) * double(1u << std::min(failures, 20));
  delay = std::min(delay, double(policy_.max_delay.count()));
  delay = delay / 2 + delay / 2 * clock_.random_unit();
  return std::chrono::microseconds(int64_t(delay * 1000));
}

Status RetryingBackend::Around(Call&, const std::function<Status()>& attempt) {
  for (int n = 1;; ++n) {
    Status st = attempt();
    if (st || st.error().code() != ErrorCode::kNetwork) return st;
    if (n == policy_.max_attempts) {
      if (n == 1) return st;
      return Fail(ErrorCode::kNetwork, st.error().message() + " (" +
                                           std::to_string(policy_.max_attempts) + " attempts)");
    }
    const std::chrono::microseconds delay = Backoff(n - 1);
    if (on_retry_) {
      char when[32];
      std::snprintf(when, sizeof when, "%.1f s", double(delay.count()) / 1e6);
      on_retry_(st.error().message() + "; attempt " + std::to_string(n + 1) + " of " +
                std::to_string(policy_.max_attempts) + " in " + when);
    }
    clock_.sleep(delay);
  }
}

// RateLimitedBackend.

RateLimitedBackend::RateLimitedBackend(std::shared_ptr<Backend> inner, double puts_per_second,
                                       WaitClock clock)
    : ForwardingBackend(std::move(inner)),
      interval_(puts_per_second > 0 ? 1.0 / puts_per_second : 0),
      clock_(std::move(clock)) {}

Result<bool> RateLimitedBackend::Put(const std::string& key, ByteView data, PutMode mode) {
  if (interval_ > 0) {
    double wait;
    {
      std::lock_guard lock(mu_);
      const double now = clock_.monotonic_seconds();
      const double start = std::max(now, next_);
      next_ = start + interval_;
      wait = start - now;
    }
    if (wait > 0) clock_.sleep(std::chrono::microseconds(int64_t(wait * 1e6)));
  }
  return inner_->Put(key, data, mode);
}

// HeadBeforePutBackend.

Result<bool> HeadBeforePutBackend::Put(const std::string& key, ByteView data, PutMode mode) {
  if (mode == PutMode::kIfAbsent) {
    CV_ASSIGN_OR_RETURN(auto existing, inner_->Head(key));
    if (existing) return false;
  }
  return inner_->Put(key, data, PutMode::kOverwrite);
}

}  // namespace chunkvault

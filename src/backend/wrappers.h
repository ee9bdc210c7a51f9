// Behaviour added to a backend by wrapping it, as restic does: each wrapper
// is a ForwardingBackend that changes one thing. NewS3Backend
// (backend/s3/s3_backend.h) stacks them over the S3 client:
//
//   Retrying -> RateLimited -> [HeadBeforePut] -> Counting -> S3
//
// so every attempt is throttled and counted (what an S3 bill counts), and
// the HEAD that stands in for a conditional PUT is counted too.
//
// Thread-safety: every wrapper may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "backend/forwarding_backend.h"
#include "chunkvault/backend.h"
#include "util/thread_annotations.h"

namespace chunkvault {

// Time for the wrappers that wait. Tests pass their own, so that nothing
// sleeps and waits can be checked.
struct WaitClock {
  std::function<double()> monotonic_seconds;
  std::function<void(std::chrono::microseconds)> sleep;
  std::function<double()> random_unit;  // uniform in [0, 1)
  static WaitClock Real();
};

// A ForwardingBackend whose every call to the inner backend goes through
// Around(), which a wrapper overrides to add what it adds (count the call,
// try it again). A List that Around() runs again is resumed: `fn` is not
// called again for keys it has seen (keys come in ascending order), and
// an error `fn` returns ends it at once, whatever Around() does.
class AroundBackend : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;

  Status Check() final;
  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) final;
  Result<Bytes> Get(const std::string& key) final;
  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) final;
  Result<std::optional<ObjectInfo>> Head(const std::string& key) final;
  Status Delete(const std::string& key) final;
  Status DeleteMany(const std::vector<std::string>& keys) final;
  Status List(const std::string& prefix, const std::function<Status(const ObjectInfo&)>& fn) final;
  Status Copy(const std::string& from, const std::string& to) final;

 protected:
  enum class Op { kCheck, kPut, kGet, kHead, kDelete, kList, kCopy };
  // One call, as the inner backend's attempt fills it in.
  struct Call {
    Op op;
    uint64_t requests = 1;  // as S3 bills them: a List per 1000 keys, a DeleteMany too
    uint64_t bytes_up = 0;
    uint64_t bytes_down = 0;
  };
  // Runs `attempt` (one call to the inner backend) for `call`, once or
  // more; returns the status the caller gets.
  virtual Status Around(Call& call, const std::function<Status()>& attempt) = 0;
};

// Counts the requests the inner backend makes as S3 bills them: one per
// call, but a List is a request per 1000 keys (at least one) and a
// DeleteMany one per 1000 keys; bytes are the objects' (up: Put; down:
// Get, GetRange). A failed call counts too: it was made.
class CountingBackend final : public AroundBackend {
 public:
  using AroundBackend::AroundBackend;
  BackendCounts counts() const;

 private:
  Status Around(Call& call, const std::function<Status()>& attempt) override;
  std::atomic<uint64_t> get_{0}, put_{0}, head_{0}, list_{0}, del_{0}, copy_{0};
  std::atomic<uint64_t> up_{0}, down_{0}, errors_{0};
};

// A backend and the counter of the requests it makes (the counter is the
// backend itself, or a layer of it).
struct CountedBackend {
  std::shared_ptr<Backend> backend;
  std::shared_ptr<CountingBackend> counter;
};
// `backend` with a CountingBackend around it.
CountedBackend CountRequests(std::shared_ptr<Backend> backend);

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{5000};
};

// Tries a call that failed with kNetwork (a transport error, a timeout,
// HTTP 429/5xx, a 409 on PUT: what the inner backend calls transient)
// again, up to max_attempts in all, after an exponential backoff with
// equal jitter (half the delay fixed, half random, so clients spread
// out). Other errors are final at once. Giving up, the last error says
// how many attempts were made.
class RetryingBackend final : public AroundBackend {
 public:
  // `on_retry` hears of each failed attempt that will be tried again,
  // before the wait, on the calling thread: what failed and when the next
  // attempt comes ("S3 GET <key> (...): HTTP 503 SlowDown ...; attempt 2
  // of 5 in 0.3 s"). A stalled server otherwise looks like a hung job.
  RetryingBackend(std::shared_ptr<Backend> inner, RetryPolicy policy, WaitClock clock,
                  std::function<void(const std::string&)> on_retry);

 private:
  Status Around(Call& call, const std::function<Status()>& attempt) override;
  std::chrono::microseconds Backoff(int failures);

  const RetryPolicy policy_;
  const WaitClock clock_;
  const std::function<void(const std::string&)> on_retry_;
};

// At most `puts_per_second` Puts start per second, spaced evenly.
class RateLimitedBackend final : public ForwardingBackend {
 public:
  RateLimitedBackend(std::shared_ptr<Backend> inner, double puts_per_second, WaitClock clock);

  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override;

 private:
  const double interval_;  // seconds between PUTs
  const WaitClock clock_;
  std::mutex mu_;
  double next_ CV_GUARDED_BY(mu_) = 0;  // when the next PUT may start
};

// For providers without conditional PUTs: a Put(kIfAbsent) asks with Head
// first and then overwrites. Not atomic (two writers may both store);
// harmless for chunks, whose bytes are those of their digest.
class HeadBeforePutBackend final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override;
};

}  // namespace chunkvault

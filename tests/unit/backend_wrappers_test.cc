// The backend wrappers alone (src/backend/wrappers.h), over the memory
// backend with a fault injected by a forwarding fake: what is retried and
// what is final, a listing resumed where it broke, what the counter
// counts, and a HEAD standing in for a conditional PUT. The S3 stack they
// form is tested in s3_client_test.cc, and the contract they keep by the
// conformance suite (WrappedMemory).
#include <gtest/gtest.h>

#include <atomic>

#include "backend/forwarding_backend.h"
#include "backend/wrappers.h"

namespace chunkvault {
namespace {

// Fails the next `failures` calls of List (after `keys_first` keys) or Get
// with `code`.
class Faulty final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  std::atomic<int> failures{0};
  size_t keys_first = 0;
  ErrorCode code = ErrorCode::kNetwork;
  std::atomic<int> lists{0}, gets{0};

  Result<Bytes> Get(const std::string& key) override {
    ++gets;
    if (failures > 0) {
      --failures;
      return Fail(code, "injected: GET " + key + " failed");
    }
    return inner_->Get(key);
  }
  Status List(const std::string& prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    ++lists;
    size_t n = 0;
    const bool fail = failures > 0;
    if (fail) --failures;
    return inner_->List(prefix, [&](const ObjectInfo& o) -> Status {
      if (fail && n++ == keys_first) return Fail(code, "injected: the listing broke");
      return fn(o);
    });
  }
};

WaitClock NoWait(std::vector<std::chrono::microseconds>* sleeps) {
  WaitClock c;
  c.monotonic_seconds = [] { return 0.0; };
  c.sleep = [sleeps](std::chrono::microseconds d) { sleeps->push_back(d); };
  c.random_unit = [] { return 0.5; };
  return c;
}

class WrappersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"p/a", "p/b", "p/c", "p/d"})
      ASSERT_TRUE(memory_->Put(k, AsBytes(k), PutMode::kOverwrite).has_value());
  }

  std::shared_ptr<Backend> memory_ = NewMemoryBackend();
  std::shared_ptr<Faulty> faulty_ = std::make_shared<Faulty>(memory_);
  std::vector<std::chrono::microseconds> sleeps_;
  std::vector<std::string> told_;
  RetryingBackend retrying_{faulty_, RetryPolicy{}, NoWait(&sleeps_),
                            [this](const std::string& m) { told_.push_back(m); }};
};

TEST_F(WrappersTest, TransientErrorsAreRetriedOthersAreFinalAtOnce) {
  faulty_->failures = 2;
  auto r = retrying_.Get("p/a");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(faulty_->gets, 3);
  EXPECT_EQ(sleeps_.size(), 2u);
  ASSERT_EQ(told_.size(), 2u);
  EXPECT_EQ(told_[0], "injected: GET p/a failed; attempt 2 of 5 in 0.1 s");

  faulty_->gets = 0;
  faulty_->code = ErrorCode::kPermissionDenied;
  faulty_->failures = 1;
  r = retrying_.Get("p/a");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(faulty_->gets, 1) << "a refusal is not retried";
  EXPECT_EQ(r.error().message(), "injected: GET p/a failed");

  faulty_->code = ErrorCode::kNetwork;
  faulty_->failures = 5;
  r = retrying_.Get("p/a");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "injected: GET p/a failed (5 attempts)");
}

TEST_F(WrappersTest, AListingThatBreaksIsResumedWithoutRepeatingKeys) {
  faulty_->failures = 1;
  faulty_->keys_first = 2;  // p/a and p/b are handed out, then it breaks
  std::vector<std::string> seen;
  ASSERT_TRUE(retrying_
                  .List("p/",
                        [&](const ObjectInfo& o) -> Status {
                          seen.push_back(o.key);
                          return {};
                        })
                  .has_value());
  EXPECT_EQ(seen, (std::vector<std::string>{"p/a", "p/b", "p/c", "p/d"}));
  EXPECT_EQ(faulty_->lists, 2);
}

TEST_F(WrappersTest, AnErrorOfTheListingsReaderIsFinal) {
  int calls = 0;
  auto st = retrying_.List("p/", [&](const ObjectInfo&) -> Status {
    ++calls;
    return Fail(ErrorCode::kNetwork, "the reader's own GET failed");
  });
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message(), "the reader's own GET failed");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(faulty_->lists, 1);
}

TEST_F(WrappersTest, TheCounterCountsRequestsAsS3BillsThem) {
  auto counter = std::make_shared<CountingBackend>(memory_);
  for (int i = 0; i < 2500; ++i)
    ASSERT_TRUE(counter->Put("q/" + std::to_string(i), AsBytes("xy"), PutMode::kOverwrite));
  ASSERT_TRUE(counter->Get("p/a").has_value());
  EXPECT_FALSE(counter->Get("missing").has_value());
  ASSERT_TRUE(counter->List("q/", [](const ObjectInfo&) { return Status(); }).has_value());
  ASSERT_TRUE(counter->List("none/", [](const ObjectInfo&) { return Status(); }).has_value());
  std::vector<std::string> keys(1001, "q/0");
  ASSERT_TRUE(counter->DeleteMany(keys).has_value());
  const BackendCounts c = counter->counts();
  EXPECT_EQ(c.put, 2500u);
  EXPECT_EQ(c.bytes_up, 5000u);
  EXPECT_EQ(c.get, 2u) << "a failed request is made, and billed";
  EXPECT_EQ(c.bytes_down, 3u);
  EXPECT_EQ(c.list, 3u + 1u) << "2500 keys are 3 pages; an empty listing is one";
  EXPECT_EQ(c.del, 2u);
}

TEST_F(WrappersTest, HeadBeforePutStandsInForAConditionalPut) {
  auto counter = std::make_shared<CountingBackend>(memory_);
  HeadBeforePutBackend head_first(counter);
  EXPECT_EQ(*head_first.Put("p/a", AsBytes("new"), PutMode::kIfAbsent), false);
  EXPECT_EQ(AsString(*memory_->Get("p/a")), "p/a");
  EXPECT_EQ(*head_first.Put("p/z", AsBytes("new"), PutMode::kIfAbsent), true);
  EXPECT_EQ(AsString(*memory_->Get("p/z")), "new");
  EXPECT_EQ(counter->counts().head, 2u);
  EXPECT_EQ(counter->counts().put, 1u);
}

}  // namespace
}  // namespace chunkvault

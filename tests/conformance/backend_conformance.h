// The Backend contract (include/chunkvault/backend.h) as one typed test
// suite. Each binary instantiates it for the backends it can reach:
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Memory, BackendConformance, MemoryFactory);
//
// A Factory has `static std::shared_ptr<Backend> Make()` (or unique_ptr). Every test works
// under a fresh random prefix, so runs against a shared bucket do not meet.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "chunkvault/backend.h"

namespace chunkvault::conformance {

template <class Factory>
class BackendConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = Factory::Make();
    ASSERT_NE(backend_, nullptr);
    std::random_device rd;
    prefix_ = "conformance-" + std::to_string(rd()) + std::to_string(rd()) + "/";
  }
  void TearDown() override {
    if (backend_) (void)DeletePrefix(*backend_, prefix_);
  }

  std::string K(const std::string& key) const { return prefix_ + key; }
  static ByteView B(const std::string& s) { return AsBytes(s); }
  static std::string S(const Result<Bytes>& r) { return std::string(AsString(*r)); }

  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> out;
    auto st = backend_->List(prefix, [&](const ObjectInfo& o) -> Status {
      out.push_back(o.key);
      return {};
    });
    EXPECT_TRUE(st.has_value()) << st.error().message();
    return out;
  }

  // Runs fn(i) for i in [0, n) on a few threads.
  template <class F>
  static void Parallel(int n, F fn) {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i; (i = next++) < n;) fn(i);
      });
    for (auto& t : threads) t.join();
  }

  std::shared_ptr<Backend> backend_;
  std::string prefix_;
};

TYPED_TEST_SUITE_P(BackendConformance);

TYPED_TEST_P(BackendConformance, PutGetHeadDelete) {
  auto& b = *this->backend_;
  ASSERT_TRUE(b.Check().has_value());
  ASSERT_EQ(*b.Put(this->K("dir/obj"), this->B("hello"), PutMode::kOverwrite), true);
  EXPECT_EQ(this->S(b.Get(this->K("dir/obj"))), "hello");
  auto head = b.Head(this->K("dir/obj"));
  ASSERT_TRUE(head.has_value() && head->has_value());
  EXPECT_EQ((*head)->size, 5u);
  EXPECT_EQ((*head)->key, this->K("dir/obj"));
  ASSERT_TRUE(b.Delete(this->K("dir/obj")).has_value());
  EXPECT_FALSE(b.Head(this->K("dir/obj"))->has_value());
}

TYPED_TEST_P(BackendConformance, MissingKeys) {
  auto& b = *this->backend_;
  auto g = b.Get(this->K("nope"));
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code(), ErrorCode::kNotFound);
  auto r = b.GetRange(this->K("nope"), 0, 10);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(b.Head(this->K("nope"))->has_value());
  EXPECT_TRUE(b.Delete(this->K("nope")).has_value());
  EXPECT_TRUE(b.DeleteMany({this->K("nope1"), this->K("nope2")}).has_value());
  EXPECT_TRUE(this->Keys(this->K("")).empty());
}

TYPED_TEST_P(BackendConformance, EmptyObject) {
  auto& b = *this->backend_;
  ASSERT_TRUE(b.Put(this->K("empty"), {}, PutMode::kIfAbsent).has_value());
  EXPECT_TRUE(b.Get(this->K("empty"))->empty());
  EXPECT_EQ((*b.Head(this->K("empty")))->size, 0u);
}

TYPED_TEST_P(BackendConformance, PutIfAbsentKeepsTheFirstObject) {
  auto& b = *this->backend_;
  EXPECT_EQ(*b.Put(this->K("x"), this->B("first"), PutMode::kIfAbsent), true);
  EXPECT_EQ(*b.Put(this->K("x"), this->B("second"), PutMode::kIfAbsent), false);
  EXPECT_EQ(this->S(b.Get(this->K("x"))), "first");
  EXPECT_EQ(*b.Put(this->K("x"), this->B("third"), PutMode::kOverwrite), true);
  EXPECT_EQ(this->S(b.Get(this->K("x"))), "third");
}

TYPED_TEST_P(BackendConformance, ConcurrentPutIfAbsentHasExactlyOneWinner) {
  auto& b = *this->backend_;
  std::atomic<int> winners{0}, losers{0}, failures{0};
  std::mutex mu;
  std::string winner;
  this->Parallel(32, [&](int i) {
    const std::string body = "writer " + std::to_string(i);
    auto r = b.Put(this->K("race"), AsBytes(body), PutMode::kIfAbsent);
    if (!r) {
      ++failures;
    } else if (*r) {
      ++winners;
      std::lock_guard lock(mu);
      winner = body;
    } else {
      ++losers;
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(losers.load(), 31);
  EXPECT_EQ(this->S(b.Get(this->K("race"))), winner);
}

TYPED_TEST_P(BackendConformance, RangeReads) {
  auto& b = *this->backend_;
  ASSERT_TRUE(b.Put(this->K("r"), this->B("0123456789"), PutMode::kOverwrite).has_value());
  EXPECT_EQ(this->S(b.GetRange(this->K("r"), 2, 3)), "234");
  EXPECT_EQ(this->S(b.GetRange(this->K("r"), 8, 100)), "89");
  EXPECT_EQ(this->S(b.GetRange(this->K("r"), 10, 5)), "");
  EXPECT_EQ(this->S(b.GetRange(this->K("r"), 0, 0)), "");
}

TYPED_TEST_P(BackendConformance, ListsThousandsOfKeysInOrderAcrossPages) {
  auto& b = *this->backend_;
  constexpr int kCount = 2500;  // more than two S3 pages of 1000
  std::vector<std::string> expected;
  for (int i = 0; i < kCount; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "many/%02x/%05d", i % 256, i);
    expected.push_back(this->K(name));
  }
  std::atomic<int> failed{0};
  this->Parallel(kCount, [&](int i) {
    if (!b.Put(expected[size_t(i)], AsBytes(std::to_string(i)), PutMode::kOverwrite)) ++failed;
  });
  ASSERT_EQ(failed.load(), 0);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(this->Keys(this->K("many/")), expected);
  // A deeper prefix is exact.
  std::vector<std::string> sub;
  for (const auto& k : expected)
    if (k.starts_with(this->K("many/0a/"))) sub.push_back(k);
  EXPECT_EQ(this->Keys(this->K("many/0a/")), sub);
  EXPECT_EQ(*DeletePrefix(b, this->K("many/")), uint64_t(kCount));
  EXPECT_TRUE(this->Keys(this->K("many/")).empty());
}

TYPED_TEST_P(BackendConformance, PrefixesAreStringPrefixes) {
  auto& b = *this->backend_;
  for (const char* k : {"a/b/x", "a/bc", "a/c", "ab"})
    ASSERT_TRUE(b.Put(this->K(k), this->B(k), PutMode::kOverwrite).has_value());
  EXPECT_EQ(this->Keys(this->K("a/b")), (std::vector<std::string>{this->K("a/b/x"), this->K("a/bc")}));
  EXPECT_EQ(this->Keys(this->K("a/b/")), (std::vector<std::string>{this->K("a/b/x")}));
  EXPECT_EQ(this->Keys(this->K("a")).size(), 4u);
}

TYPED_TEST_P(BackendConformance, OddKeyCharacters) {
  auto& b = *this->backend_;
  const std::vector<std::string> names = {
      "space in name", "plus+sign", "percent%20literal", "amp&lt<gt>", "quotes\"and'",
      "equals=question?hash#", "colon:semi;at@", "tilde~star*bang!", "dollar$comma,paren()",
      "brackets[]{}", "back\\slash", "unicod\xc3\xa9/\xc3\xbc\xf0\x9f\x98\x80", "caret^pipe|grave`"};
  for (const auto& n : names) {
    auto put = b.Put(this->K(n), AsBytes("v:" + n), PutMode::kIfAbsent);
    ASSERT_TRUE(put.has_value()) << n << ": " << put.error().message();
    EXPECT_EQ(this->S(b.Get(this->K(n))), "v:" + n) << n;
    EXPECT_TRUE(b.Head(this->K(n))->has_value()) << n;
  }
  std::vector<std::string> expected;
  for (const auto& n : names) expected.push_back(this->K(n));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(this->Keys(this->K("")), expected);
  ASSERT_TRUE(b.DeleteMany(expected).has_value());
  EXPECT_TRUE(this->Keys(this->K("")).empty());
}

TYPED_TEST_P(BackendConformance, CopyKeepsTheSource) {
  auto& b = *this->backend_;
  ASSERT_TRUE(b.Put(this->K("src"), this->B("data"), PutMode::kOverwrite).has_value());
  ASSERT_TRUE(b.Copy(this->K("src"), this->K("dst.0.bad")).has_value());
  EXPECT_EQ(this->S(b.Get(this->K("dst.0.bad"))), "data");
  EXPECT_EQ(this->S(b.Get(this->K("src"))), "data");
  auto missing = b.Copy(this->K("nope"), this->K("x"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TYPED_TEST_P(BackendConformance, LargeObjectsRoundTrip) {
  auto& b = *this->backend_;
  std::string big(5 << 20, '\0');
  std::mt19937 rng(3);
  for (auto& c : big) c = char(rng());
  ASSERT_TRUE(b.Put(this->K("big"), AsBytes(big), PutMode::kIfAbsent).has_value());
  EXPECT_TRUE(this->S(b.Get(this->K("big"))) == big);
  EXPECT_TRUE(this->S(b.GetRange(this->K("big"), 4 << 20, 100)) == big.substr(4 << 20, 100));
}

REGISTER_TYPED_TEST_SUITE_P(BackendConformance, PutGetHeadDelete, MissingKeys, EmptyObject,
                            PutIfAbsentKeepsTheFirstObject,
                            ConcurrentPutIfAbsentHasExactlyOneWinner, RangeReads,
                            ListsThousandsOfKeysInOrderAcrossPages, PrefixesAreStringPrefixes,
                            OddKeyCharacters, CopyKeepsTheSource, LargeObjectsRoundTrip);

}  // namespace chunkvault::conformance

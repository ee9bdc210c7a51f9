#include "cache/policy.h"

#include <list>
#include <unordered_map>
#include <unordered_set>

namespace chunkvault {
namespace {

struct Node {
  Digest digest;
  uint64_t size;
  uint8_t freq;
};

// A FIFO of nodes with O(1) lookup and removal; front = newest.
class Queue {
 public:
  using Iter = std::list<Node>::iterator;
  Queue() = default;
  Queue(const Queue&) = delete;  // the index points into this list
  Queue& operator=(Queue&&) = default;

  void PushFront(Node n) {
    bytes_ += n.size;
    list_.push_front(n);
    index_[n.digest] = list_.begin();
  }
  // Appends at the old end (Load uses it to rebuild the order).
  void PushBack(Node n) {
    bytes_ += n.size;
    list_.push_back(n);
    index_[n.digest] = std::prev(list_.end());
  }
  Node PopBack() {
    Node n = list_.back();
    Erase(n.digest);
    return n;
  }
  bool Erase(const Digest& d) {
    auto it = index_.find(d);
    if (it == index_.end()) return false;
    bytes_ -= it->second->size;
    list_.erase(it->second);
    index_.erase(it);
    return true;
  }
  Node* Find(const Digest& d) {
    auto it = index_.find(d);
    return it == index_.end() ? nullptr : &*it->second;
  }
  const Node* Find(const Digest& d) const {
    auto it = index_.find(d);
    return it == index_.end() ? nullptr : &*it->second;
  }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  uint64_t bytes() const { return bytes_; }
  const std::list<Node>& nodes() const { return list_; }

 private:
  std::list<Node> list_;
  std::unordered_map<Digest, Iter, DigestHash> index_;
  uint64_t bytes_ = 0;
};

constexpr uint8_t kMaxFreq = 3;  // two bits, as in S3-FIFO

class S3FifoPolicy final : public CachePolicy {
 public:
  enum : uint8_t { kSmall = 0, kMain = 1, kGhost = 2 };

  explicit S3FifoPolicy(uint64_t capacity) { SetCapacity(capacity); }

  const char* name() const override { return "s3fifo"; }
  void SetCapacity(uint64_t bytes) override { small_target_ = bytes / 10; }

  bool Contains(const Digest& d) const override { return small_.Find(d) || main_.Find(d); }

  void Hit(const Digest& d) override {
    Node* n = small_.Find(d);
    if (n == nullptr) n = main_.Find(d);
    if (n != nullptr && n->freq < kMaxFreq) ++n->freq;
  }

  void Insert(const Digest& d, uint64_t size) override {
    // Seen recently (evicted from small, then wanted again): straight to main.
    if (ghost_.Erase(d)) {
      main_.PushFront({d, size, 0});
    } else {
      small_.PushFront({d, size, 0});
    }
    TrimGhost();
  }

  std::optional<Digest> Evict() override {
    for (;;) {
      if (small_.empty() && main_.empty()) return std::nullopt;
      if (!small_.empty() && (small_.bytes() >= small_target_ || main_.empty())) {
        Node t = small_.PopBack();
        if (t.freq > 0) {
          // Read again while on probation: it earns a place in main.
          t.freq = 0;
          main_.PushFront(t);
          continue;
        }
        ghost_.PushFront({t.digest, 0, 0});
        TrimGhost();
        return t.digest;
      }
      Node t = main_.PopBack();
      if (t.freq > 0) {
        --t.freq;  // another lap for a chunk read since it last came round
        main_.PushFront(t);
        continue;
      }
      return t.digest;
    }
  }

  void Erase(const Digest& d) override {
    if (!small_.Erase(d)) main_.Erase(d);
    ghost_.Erase(d);
  }

  uint64_t bytes() const override { return small_.bytes() + main_.bytes(); }
  size_t count() const override { return small_.size() + main_.size(); }

  std::vector<Entry> Dump() const override {
    std::vector<Entry> out;
    // Oldest first within each queue, so Load can append in order.
    for (auto [q, queue] : {std::pair{kSmall, &small_}, std::pair{kMain, &main_},
                            std::pair{kGhost, &ghost_}})
      for (auto it = queue->nodes().rbegin(); it != queue->nodes().rend(); ++it)
        out.push_back({it->digest, it->size, q, it->freq});
    return out;
  }

  void Load(const std::vector<Entry>& entries) override {
    small_ = Queue();
    main_ = Queue();
    ghost_ = Queue();
    std::unordered_set<Digest, DigestHash> seen;  // a damaged state may repeat one
    for (const Entry& e : entries) {
      if (!seen.insert(e.digest).second) continue;
      Queue& q = e.queue == kSmall ? small_ : e.queue == kMain ? main_ : ghost_;
      q.PushFront({e.digest, e.queue == kGhost ? 0 : e.size, std::min(e.freq, kMaxFreq)});
    }
    TrimGhost();
  }

 private:
  // The ghost remembers as many chunks as main holds (at least a few), the
  // paper's choice.
  void TrimGhost() {
    const size_t limit = std::max<size_t>(main_.size(), 16);
    while (ghost_.size() > limit) ghost_.PopBack();
  }

  uint64_t small_target_ = 0;
  Queue small_, main_, ghost_;
};

class LruPolicy final : public CachePolicy {
 public:
  const char* name() const override { return "lru"; }
  void SetCapacity(uint64_t) override {}
  bool Contains(const Digest& d) const override { return queue_.Find(d) != nullptr; }
  void Hit(const Digest& d) override {
    Node* n = queue_.Find(d);
    if (n == nullptr) return;
    Node copy = *n;
    queue_.Erase(d);
    queue_.PushFront(copy);
  }
  void Insert(const Digest& d, uint64_t size) override { queue_.PushFront({d, size, 0}); }
  std::optional<Digest> Evict() override {
    if (queue_.empty()) return std::nullopt;
    return queue_.PopBack().digest;
  }
  void Erase(const Digest& d) override { queue_.Erase(d); }
  uint64_t bytes() const override { return queue_.bytes(); }
  size_t count() const override { return queue_.size(); }
  std::vector<Entry> Dump() const override {
    std::vector<Entry> out;
    for (auto it = queue_.nodes().rbegin(); it != queue_.nodes().rend(); ++it)
      out.push_back({it->digest, it->size, 0, 0});
    return out;
  }
  void Load(const std::vector<Entry>& entries) override {
    queue_ = Queue();
    std::unordered_set<Digest, DigestHash> seen;  // a damaged state may repeat one
    for (const Entry& e : entries)
      if (seen.insert(e.digest).second) queue_.PushFront({e.digest, e.size, 0});
  }

 private:
  Queue queue_;
};

}  // namespace

bool PolicySimulator::Access(const Digest& digest, uint64_t size) {
  if (policy_->Contains(digest)) {
    policy_->Hit(digest);
    ++hits_;
    return true;
  }
  ++misses_;
  if (size > capacity_) return false;  // never admitted
  while (policy_->bytes() + size > capacity_) {
    auto victim = policy_->Evict();
    if (!victim) break;
    if (on_evict_) on_evict_(*victim);
  }
  policy_->Insert(digest, size);
  return false;
}

Result<std::unique_ptr<CachePolicy>> NewCachePolicy(const std::string& name, uint64_t capacity) {
  if (name == "s3fifo") return std::unique_ptr<CachePolicy>(std::make_unique<S3FifoPolicy>(capacity));
  if (name == "lru") return std::unique_ptr<CachePolicy>(std::make_unique<LruPolicy>());
  return Fail(ErrorCode::kInvalidArgument,
              "unknown cache policy '" + name + "' (expected s3fifo or lru)");
}

}  // namespace chunkvault

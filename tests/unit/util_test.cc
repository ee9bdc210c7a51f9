#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "chunkvault/bytes.h"
#include "chunkvault/env.h"
#include "chunkvault/hash.h"
#include "chunkvault/size.h"
#include "chunkvault/time.h"
#include "support/tree_util.h"
#include "util/byte_buffer.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

TEST(Hex, RoundTrip) {
  Bytes b = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "007fabff");
  EXPECT_EQ(*BytesFromHex("007FABff"), b);
  EXPECT_FALSE(BytesFromHex("0g").has_value());
  EXPECT_FALSE(BytesFromHex("abc").has_value());
  EXPECT_FALSE(DigestFromHex("00").has_value());
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(ToHex(Sha256Of(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256Of({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(h.Finish(), Sha256Of(AsBytes("abc")));
  // Finish() resets: the object is reusable.
  h.Update(AsBytes("abc"));
  EXPECT_EQ(h.Finish(), Sha256Of(AsBytes("abc")));
}

TEST(Crc32, KnownVectors) {
  EXPECT_EQ(Crc32(AsBytes("123456789")), 0xcbf43926u);
  const uint8_t spec[] = {0x00, 0x01};  // docs/format.md, "Blobs": the check vector
  EXPECT_EQ(Crc32(spec), 0x36de2269u);
  EXPECT_EQ(Crc32(AsBytes("6789"), Crc32(AsBytes("12345"))), 0xcbf43926u);
}

TEST(Size, Parse) {
  EXPECT_EQ(*ParseSize("4M"), 4u << 20);
  EXPECT_EQ(*ParseSize("64K"), 64u << 10);
  EXPECT_EQ(*ParseSize("64k"), 64u << 10);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1MiB"), 1u << 20);
  EXPECT_EQ(*ParseSize("100"), 100u);
  for (const char* bad : {"", "M", "4X", "-1", "1.5M", "99999999999999999999", "16777216T"}) {
    auto r = ParseSize(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST(Size, Format) {
  EXPECT_EQ(FormatSize(512), "512 B");
  EXPECT_EQ(FormatSize(1536), "1.50 KiB");
  EXPECT_EQ(FormatSize(4u << 20), "4.00 MiB");
  EXPECT_EQ(FormatSize(300ull << 30), "300 GiB");
}

TEST(Time, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(1593179765), "2020-06-26T13:56:05Z");
  EXPECT_EQ(*ParseRfc3339("2020-06-26T13:56:05Z"), 1593179765);
  for (const char* bad : {"2020-06-26 13:56:05Z", "2020-02-30T00:00:00Z", "2020-06-26T13:56:05",
                          "2020-06-26T13:56:05+00:00", "x"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(ThreadPool, RunsEveryTaskAndBoundsTheQueue) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(3, 2);
    for (int i = 0; i < 100; ++i) pool.Submit([&] { done.fetch_add(1); });
    pool.WaitIdle();
    EXPECT_EQ(done.load(), 100);
    pool.Submit([&] { done.fetch_add(1); });
  }  // destructor drains
  EXPECT_EQ(done.load(), 101);
}

// Workers can run nicer than the thread that made the pool (per-thread
// niceness), which keeps its own.
TEST(ThreadPool, WorkersRunAtTheirOwnNiceness) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  std::atomic<int> seen{-100};
  {
    ThreadPool pool(1, 1, 3);
    pool.Submit([&] { seen = ::getpriority(PRIO_PROCESS, 0); });
  }
  EXPECT_EQ(seen.load(), std::min(base + 3, 19));
  EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), base);
  {
    ThreadPool pool(1, 1);
    pool.Submit([&] { seen = ::getpriority(PRIO_PROCESS, 0); });
  }
  EXPECT_EQ(seen.load(), base);
}

// Chunk-sized buffers are their own mapping, aligned for huge pages, and
// every byte of the capacity is usable; small ones come from the heap.
TEST(ByteBuffer, LargeBuffersAreAlignedToHugePages) {
  for (size_t capacity : {kHugePage, 5 * kHugePage + 3, size_t(16) << 20}) {
    ByteBuffer b(capacity);
    ASSERT_EQ(b.capacity(), capacity);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHugePage, 0u) << capacity;
    std::memset(b.data(), 0x5a, capacity);
    b.set_size(capacity);
    EXPECT_EQ(b.view().front(), 0x5a);
    EXPECT_EQ(b.view().back(), 0x5a);
  }
  ByteBuffer small(1000);
  std::memset(small.data(), 1, 1000);
  EXPECT_EQ(small.spare().size(), 1000u);
}

// A buffer given back keeps its memory for the next Get(), with no more
// than `resident` bytes of it still holding pages (the rest reads as the
// zeros of fresh pages).
TEST(BufferPool, IdleBuffersKeepOnlyTheirResidentPages) {
  const size_t size = 3 * kHugePage, resident = kHugePage;
  auto pool = BufferPool::Make(size, 1, resident);
  const uint8_t* first;
  {
    ByteBuffer b = pool->Get();
    first = b.data();
    std::memset(b.data(), 0xab, size);
  }
  ByteBuffer again = pool->Get();
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(again.data()[0], 0xab);
  EXPECT_EQ(again.data()[resident - 1], 0xab);
  EXPECT_EQ(again.data()[resident], 0);
  EXPECT_EQ(again.data()[size - 1], 0);
  ByteBuffer other = pool->Get();  // none idle: new memory
  EXPECT_NE(other.data(), first);
}

// A lock file removed by the holder of its lock: a Lock() waiting for it
// ends up holding the file the path names, not the removed one, so it
// still excludes whoever locks the path next.
TEST(EnvLock, AWaiterForARemovedFileLocksTheNewOne) {
  Env* env = Env::Default();
  testing::TempDir tmp;
  const std::string path = tmp / "x.lock";
  auto holder = env->Lock(path, LockMode::kExclusive, false);
  ASSERT_TRUE(holder.has_value());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  std::atomic<bool> done{false};
  Result<std::unique_ptr<FileLock>> waiter = std::unexpected(Error(ErrorCode::kInternal, "unset"));
  std::thread t([&] {
    waiter = env->Lock(path, LockMode::kExclusive, true);
    done = true;
  });
  // Until the kernel lists the waiter as blocked on this inode (a "->"
  // line of /proc/locks), where /proc is there to tell.
  const std::string inode = ":" + std::to_string(st.st_ino) + " ";
  for (bool blocked = false; !blocked && std::filesystem::exists("/proc/locks");) {
    std::ifstream locks("/proc/locks");
    for (std::string line; !blocked && std::getline(locks, line);)
      blocked = line.find("->") != std::string::npos && line.find(inode) != std::string::npos;
    if (!blocked) std::this_thread::yield();
  }
  EXPECT_FALSE(done);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  holder->reset();
  t.join();
  ASSERT_TRUE(waiter.has_value()) << waiter.error().message();
  ASSERT_TRUE(std::filesystem::exists(path));
  auto next = env->Lock(path, LockMode::kExclusive, false);
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error().code(), ErrorCode::kBusy);
}

// An appendable file opens cut to the bytes asked for (a journal's torn
// tail goes), appends after them, and is never reached through a symlink.
TEST(EnvAppendable, OpensCutToWhatIsKeptAndAppendsAfterIt) {
  Env* env = Env::Default();
  testing::TempDir tmp;
  const std::string path = tmp / "journal";
  {
    auto f = env->OpenAppendable(path, 0);
    ASSERT_TRUE(f.has_value()) << f.error().message();
    ASSERT_TRUE((*f)->Append(AsBytes("header-torn")).has_value());
  }
  {
    auto f = env->OpenAppendable(path, 6);
    ASSERT_TRUE(f.has_value()) << f.error().message();
    ASSERT_TRUE((*f)->Append(AsBytes("+record")).has_value());
  }
  EXPECT_EQ(testing::ReadFile(path), "header+record");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  std::filesystem::create_symlink(path, tmp / "link");
  auto through = env->OpenAppendable(tmp / "link", 0);
  EXPECT_FALSE(through.has_value());
  EXPECT_EQ(testing::ReadFile(path), "header+record");
}

}  // namespace
}  // namespace chunkvault

// The Backend conformance suite for the backends that need no server.
#include "backend/wrappers.h"
#include "conformance/backend_conformance.h"
#include "support/tree_util.h"

#include <filesystem>

namespace chunkvault::conformance {
namespace {

struct MemoryFactory {
  static std::unique_ptr<Backend> Make() { return NewMemoryBackend(); }
};

struct FilesystemFactory {
  static std::unique_ptr<Backend> Make() {
    // One directory per test, removed at exit of the process (a static
    // object, destroyed then; ctest runs each test in a process of its
    // own, and a leaked one left a directory in /dev/shm per test run).
    static testing::TempDir root;
    static int n = 0;
    const std::string dir = root.path() + "/" + std::to_string(n++);
    std::filesystem::create_directories(dir);
    return NewFilesystemBackend(dir);
  }
};

// Memory under the wrappers the S3 stack uses (backend/wrappers.h): each
// keeps the contract. (HeadBeforePut does not: it is for providers that
// cannot keep put-if-absent atomic, and says so.)
struct WrappedMemoryFactory {
  static std::shared_ptr<Backend> Make() {
    std::shared_ptr<Backend> b = CountRequests(NewMemoryBackend()).backend;
    b = std::make_shared<RateLimitedBackend>(b, 1e9, WaitClock::Real());
    return std::make_shared<RetryingBackend>(b, RetryPolicy{}, WaitClock::Real(), nullptr);
  }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, BackendConformance, MemoryFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(WrappedMemory, BackendConformance, WrappedMemoryFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Filesystem, BackendConformance, FilesystemFactory);

}  // namespace chunkvault::conformance

#include "datastore/writers.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace chunkvault {

namespace {

constexpr char kWritersDir[] = ".writers";

}  // namespace

WriterRegistration::~WriterRegistration() {
  // Removed while still locked: a reader that locks it afterwards finds a
  // name that no longer exists, never a live writer's file unlocked.
  (void)env_->RemoveFile(path_);
}

Result<std::unique_ptr<WriterRegistration>> RegisterWriter(Env* env, const std::string& store,
                                                           int64_t start) {
  static std::atomic<uint64_t> serial{0};
  const std::string dir = JoinPath(store, kWritersDir);
  CV_RETURN_IF_ERROR(env->CreateDirs(dir));
  const std::string path = JoinPath(dir, std::to_string(start) + "-" + std::to_string(::getpid()) +
                                             "-" + std::to_string(serial++));
  CV_ASSIGN_OR_RETURN(auto lock, env->Lock(path, LockMode::kExclusive, /*wait=*/false));
  return std::make_unique<WriterRegistration>(env, path, std::move(lock));
}

Result<std::optional<int64_t>> OldestWriterStart(Env* env, const std::string& store) {
  const std::string dir = JoinPath(store, kWritersDir);
  auto names = env->ListDir(dir);
  if (!names) {
    if (names.error().code() == ErrorCode::kNotFound) return std::optional<int64_t>();
    return std::unexpected(names.error());
  }
  std::optional<int64_t> oldest;
  for (const std::string& name : *names) {
    char* end = nullptr;
    const long long start = std::strtoll(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '-') continue;  // not ours
    const std::string path = JoinPath(dir, name);
    auto probe = env->Lock(path, LockMode::kShared, /*wait=*/false);
    if (probe) {
      (void)env->RemoveFile(path);  // its writer is gone
      continue;
    }
    if (probe.error().code() != ErrorCode::kBusy) return std::unexpected(probe.error());
    if (!oldest || start < *oldest) oldest = start;
  }
  return oldest;
}

}  // namespace chunkvault

// Objects as files: <root>/<key>. Temporary files live in <root>/.cv-tmp,
// on the same filesystem, so a rename (overwrite) or link (put-if-absent)
// moves a complete file into place.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>

#include "chunkvault/backend.h"
#include "chunkvault/env.h"
#include "util/fd.h"

namespace chunkvault {
namespace {

constexpr char kTmpDir[] = ".cv-tmp";

class FilesystemBackend final : public Backend {
 public:
  explicit FilesystemBackend(std::string root) : root_(std::move(root)) {}

  std::string Describe() const override { return "directory " + root_; }

  Status Check() override {
    struct stat st;
    if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kNotFound, "backend directory " + root_ + " does not exist");
    return {};
  }

  Result<bool> Put(const std::string& key, ByteView data, PutMode mode) override {
    CV_ASSIGN_OR_RETURN(std::string path, PathOf(key));
    Env* env = Env::Default();
    CV_RETURN_IF_ERROR(env->CreateDirs(std::filesystem::path(path).parent_path()));
    CV_RETURN_IF_ERROR(env->CreateDirs(root_ + "/" + kTmpDir));
    const std::string tmp =
        root_ + "/" + kTmpDir + "/" + std::to_string(::getpid()) + "." + std::to_string(counter_++);
    {
      UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
      if (!fd) return FailErrno(errno, "create " + tmp);
      size_t done = 0;
      while (done < data.size()) {
        ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          ::unlink(tmp.c_str());
          return FailErrno(errno, "write " + tmp);
        }
        done += size_t(n);
      }
    }
    if (mode == PutMode::kIfAbsent) {
      // link() fails if the name exists: atomic put-if-absent.
      int rc = ::link(tmp.c_str(), path.c_str());
      int err = errno;
      ::unlink(tmp.c_str());
      if (rc == 0) return true;
      if (err == EEXIST) return false;
      return FailErrno(err, "store " + path);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return FailErrno(err, "store " + path);
    }
    return true;
  }

  Result<Bytes> Get(const std::string& key) override {
    CV_ASSIGN_OR_RETURN(std::string path, PathOf(key));
    auto r = Env::Default()->ReadFile(path, kMaxObjectSize);
    if (!r && r.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "no object " + key + " in " + Describe());
    return r;
  }

  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    CV_ASSIGN_OR_RETURN(std::string path, PathOf(key));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return Fail(ErrorCode::kNotFound, "no object " + key + " in " + Describe());
      return FailErrno(errno, "open " + path);
    }
    Bytes out(length);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd.get(), out.data() + done, length - done, off_t(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno(errno, "read " + path);
      if (n == 0) break;
      done += size_t(n);
    }
    out.resize(done);
    return out;
  }

  Result<std::optional<ObjectInfo>> Head(const std::string& key) override {
    CV_ASSIGN_OR_RETURN(std::string path, PathOf(key));
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<ObjectInfo>();
      return FailErrno(errno, "stat " + path);
    }
    if (!S_ISREG(st.st_mode)) return std::optional<ObjectInfo>();
    return std::optional<ObjectInfo>(ObjectInfo{key, uint64_t(st.st_size)});
  }

  Status Delete(const std::string& key) override {
    CV_ASSIGN_OR_RETURN(std::string path, PathOf(key));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR)
      return FailErrno(errno, "delete " + path);
    return {};
  }

  Status DeleteMany(const std::vector<std::string>& keys) override {
    std::string failed;
    for (const std::string& k : keys)
      if (auto st = Delete(k); !st) failed += (failed.empty() ? "" : "; ") + st.error().message();
    if (!failed.empty()) return Fail(ErrorCode::kIo, failed);
    return {};
  }

  Status List(const std::string& prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    // Walk the deepest directory the prefix names; filter by the full prefix.
    const auto slash = prefix.rfind('/');
    const std::string dir_key = slash == std::string::npos ? "" : prefix.substr(0, slash);
    std::vector<ObjectInfo> found;
    Collect(dir_key, prefix, found);
    std::sort(found.begin(), found.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    for (const ObjectInfo& o : found) CV_RETURN_IF_ERROR(fn(o));
    return {};
  }

  // A directory costs nothing per request; nothing is counted.

  Status Copy(const std::string& from, const std::string& to) override {
    CV_ASSIGN_OR_RETURN(Bytes data, Get(from));
    CV_RETURN_IF_ERROR(Put(to, data, PutMode::kOverwrite));
    return {};
  }

 private:
  Result<std::string> PathOf(const std::string& key) const {
    bool ok = !key.empty() && key.front() != '/' && key.back() != '/' &&
              key.find('\0') == std::string::npos;
    for (size_t start = 0; ok && start <= key.size();) {
      size_t end = key.find('/', start);
      if (end == std::string::npos) end = key.size();
      std::string_view part(key.data() + start, end - start);
      ok = !part.empty() && part != "." && part != "..";
      if (start == 0 && part == kTmpDir) ok = false;
      start = end + 1;
    }
    if (!ok) return Fail(ErrorCode::kInvalidArgument, "invalid object key '" + key + "'");
    return root_ + "/" + key;
  }

  void Collect(const std::string& dir_key, const std::string& prefix,
               std::vector<ObjectInfo>& out) const {
    const std::string dir = dir_key.empty() ? root_ : root_ + "/" + dir_key;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || (dir_key.empty() && name == kTmpDir)) continue;
      names.push_back(std::move(name));
    }
    ::closedir(d);
    for (const std::string& name : names) {
      const std::string key = dir_key.empty() ? name : dir_key + "/" + name;
      // Descend only where keys under `prefix` can be.
      if (!key.starts_with(prefix) && !prefix.starts_with(key + "/")) continue;
      struct stat st;
      if (::lstat((dir + "/" + name).c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) Collect(key, prefix, out);
      else if (S_ISREG(st.st_mode) && key.starts_with(prefix)) out.push_back({key, uint64_t(st.st_size)});
    }
  }

  const std::string root_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

std::unique_ptr<Backend> NewFilesystemBackend(const std::string& root) {
  return std::make_unique<FilesystemBackend>(root);
}

}  // namespace chunkvault

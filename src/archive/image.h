// Disk images: regular files or block devices, read for backup and written
// on restore.
//
// Thread-safety: one thread per object.
#pragma once

#include <cstdint>
#include <string>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "util/fd.h"

namespace chunkvault {

// Sequential reader of a regular file or block device.
class ImageSource {
 public:
  static Result<ImageSource> Open(const std::string& path);

  uint64_t size() const { return size_; }
  // Fills `buf` completely unless the image ends first; returns the count.
  Result<size_t> Read(uint8_t* buf, size_t len);

 private:
  ImageSource(UniqueFd fd, std::string path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}
  UniqueFd fd_;
  std::string path_;
  uint64_t size_;
};

// Sequential writer of a restored image: a new regular file (all-zero
// blocks become holes, so a sparse image stays sparse), an existing block
// device (written in full), or standard output ("-").
class ImageTarget {
 public:
  // `follow`: whether a symlink at `path` is followed (else it is an error).
  static Result<ImageTarget> Create(const std::string& path, bool overwrite, bool follow = true);

  Status Write(ByteView data);
  // Checks that `expected_size` bytes were written and makes the file's
  // length exact (holes at the end).
  Status Finish(uint64_t expected_size);

 private:
  ImageTarget(UniqueFd fd, std::string path, bool sparse)
      : fd_(std::move(fd)), path_(std::move(path)), sparse_(sparse) {}
  UniqueFd fd_;
  std::string path_;
  bool sparse_;
  uint64_t offset_ = 0;
};

}  // namespace chunkvault

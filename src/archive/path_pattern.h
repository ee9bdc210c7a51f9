// Path patterns, as PBS's exclude and restore patterns (and .gitignore)
// read them: shell globs over a path from the archive's root.
//
//   name.o      no '/': matches that name at any depth
//   /build      a leading '/' (or one inside): anchored at the root
//   logs/       a trailing '/': directories only
//   **          any number of path components, none included
//   !keep.o     a match makes the path included again (exclude lists)
//
// '*', '?' and '[...]' match within one component (fnmatch), dot files
// included. A pattern matching a directory applies to everything below it
// (the caller stops descending).
//
// Thread-safety: immutable after Parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/status.h"

namespace chunkvault {

class PathPattern {
 public:
  // kInvalidArgument for an empty pattern.
  static Result<PathPattern> Parse(std::string_view text);

  // `path`: from the root, components separated by '/', no leading '/'.
  bool Matches(std::string_view path, bool is_dir) const;
  bool negated() const { return negated_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> parts_;  // components; "**" for any run
  bool anchored_ = false, dirs_only_ = false, negated_ = false;
};

// The last of `patterns` that matches `path` decides: true if it is not
// negated. No match: false.
bool MatchesLast(const std::vector<PathPattern>& patterns, std::string_view path, bool is_dir);

}  // namespace chunkvault

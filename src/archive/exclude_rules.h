// What a backup leaves out, as PBS's client decides it: the patterns
// given on the command line (--exclude), and those of every .pxarexclude
// file in the tree, which apply to the directory holding it and below
// (path_pattern.h; one pattern per line, '#' comments; a leading '/'
// anchors at that directory). The last pattern that matches a path
// decides, deeper files' after shallower ones', the command line's first.
// A .pxarexclude-cli at the root is always left out (PBS's name for the
// command line's patterns stored in a legacy archive).
//
// Thread-safety: used by the tree walker's lister thread alone.
#pragma once

#include <string>
#include <vector>

#include "archive/path_pattern.h"
#include "archive/tree_walker.h"

namespace chunkvault {

class ExcludeRules final : public TreeWalker::Filter {
 public:
  explicit ExcludeRules(std::vector<PathPattern> command_line)
      : scopes_{Scope{"", std::move(command_line)}} {}

  std::string EnterDirectory(int fd, const std::string& rel) override;
  void LeaveDirectory(const std::string& rel) override;
  bool Skip(const std::string& rel, bool is_dir) override;

 private:
  struct Scope {
    std::string base;  // the directory's path from the root ("" the root)
    std::vector<PathPattern> patterns;
  };
  std::vector<Scope> scopes_;  // the command line's first, then by depth
};

}  // namespace chunkvault

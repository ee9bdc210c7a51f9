#include "archive/path_pattern.h"

#include <gtest/gtest.h>

namespace chunkvault {
namespace {

bool M(std::string_view pattern, std::string_view path, bool dir = false) {
  auto p = PathPattern::Parse(pattern);
  EXPECT_TRUE(p.has_value()) << pattern;
  return p && p->Matches(path, dir);
}

TEST(PathPattern, ANameMatchesAtAnyDepth) {
  EXPECT_TRUE(M("*.o", "a.o"));
  EXPECT_TRUE(M("*.o", "src/lib/a.o"));
  EXPECT_FALSE(M("*.o", "src/a.c"));
  EXPECT_TRUE(M(".git", "repo/.git", true));
  EXPECT_TRUE(M("*", ".hidden"));  // dot files too
}

TEST(PathPattern, ASlashAnchorsAtTheRoot) {
  EXPECT_TRUE(M("/build", "build", true));
  EXPECT_FALSE(M("/build", "src/build", true));
  EXPECT_TRUE(M("src/*.c", "src/a.c"));
  EXPECT_FALSE(M("src/*.c", "src/sub/a.c"));  // '*' stays in one component
  EXPECT_FALSE(M("src/*.c", "x/src/a.c"));
}

TEST(PathPattern, DoubleStarSpansComponents) {
  EXPECT_TRUE(M("**/cache", "cache", true));
  EXPECT_TRUE(M("**/cache", "home/u/.cache/../cache", true));
  EXPECT_TRUE(M("home/**/*.log", "home/u/a/b/x.log"));
  EXPECT_TRUE(M("home/**/*.log", "home/x.log"));
  EXPECT_FALSE(M("home/**/*.log", "var/x.log"));
}

TEST(PathPattern, TrailingSlashMeansDirectoriesOnly) {
  EXPECT_TRUE(M("tmp/", "a/tmp", true));
  EXPECT_FALSE(M("tmp/", "a/tmp", false));
}

TEST(PathPattern, TheLastMatchDecides) {
  std::vector<PathPattern> ps;
  for (const char* t : {"*.log", "!keep.log"}) ps.push_back(*PathPattern::Parse(t));
  EXPECT_TRUE(MatchesLast(ps, "a/x.log", false));
  EXPECT_FALSE(MatchesLast(ps, "a/keep.log", false));
  EXPECT_FALSE(MatchesLast(ps, "a/x.txt", false));
  EXPECT_TRUE(ps[1].negated());
  EXPECT_FALSE(PathPattern::Parse("").has_value());
  EXPECT_FALSE(PathPattern::Parse("/").has_value());
}

}  // namespace
}  // namespace chunkvault

#include "support/cli_runner.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace chunkvault::testing {

RunResult CliRunner::Run(std::vector<std::string> args, RunOptions options) const {
  args.insert(args.begin(), binary_);
  for (const auto& [k, v] : env_) {
    bool unset = std::find(options.unset_env.begin(), options.unset_env.end(), k) != options.unset_env.end();
    if (!options.env.count(k) && !unset) options.env[k] = v;
  }
  if (!options.env.count("CHUNKVAULT_STORE")) options.env["CHUNKVAULT_STORE"] = store_;
  return testing::Run(args, options);
}

void CliRunner::Init(std::vector<std::string> extra) const {
  extra.insert(extra.begin(), "init");
  RunResult r = Run(extra);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string CliRunner::Backup(std::vector<std::string> args) const {
  args.insert(args.begin(), "backup");
  RunResult r = Run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string snap = r.out;
  while (!snap.empty() && snap.back() == '\n') snap.pop_back();
  return snap;
}

nlohmann::json CliRunner::Json(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, false);
}

}  // namespace chunkvault::testing

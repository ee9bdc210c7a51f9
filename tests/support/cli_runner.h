// Drives the chunkvault binary against one store, for integration tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"

namespace chunkvault::testing {

class CliRunner {
 public:
  CliRunner(std::string binary, std::string store) : binary_(std::move(binary)), store_(std::move(store)) {}

  // Added to every run's environment (CHUNKVAULT_STORE is set already).
  std::map<std::string, std::string>& env() { return env_; }
  const std::string& store() const { return store_; }

  RunResult Run(std::vector<std::string> args, RunOptions options = {}) const;
  // `init` (plus `extra` options); a failing init fails the current test.
  void Init(std::vector<std::string> extra = {}) const;
  // A backup that must succeed; returns the snapshot it printed.
  std::string Backup(std::vector<std::string> args) const;
  // Parses stdout as JSON after checking the run succeeded.
  static nlohmann::json Json(const RunResult& r);

 private:
  std::string binary_, store_;
  std::map<std::string, std::string> env_;
};

}  // namespace chunkvault::testing

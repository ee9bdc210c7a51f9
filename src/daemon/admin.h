// chunkvaultd's administration commands: datastore, user, token, acl and
// cert, each working on the configuration directory (--config-dir).
//
// Exit codes as the chunkvault CLI's: 0 success, 1 failure (the message
// says what), 2 a wrong command line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace chunkvault::daemon {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The default --config-dir, and the variable that overrides it.
inline constexpr const char* kDefaultConfigDir = "/etc/chunkvault";
inline constexpr const char* kConfigDirVariable = "CHUNKVAULT_CONFIG_DIR";

// Adds --config-dir (with CHUNKVAULT_CONFIG_DIR) to `cmd`.
void AddConfigDirOption(CLI::App* cmd, std::string& config_dir);

void RegisterAdminCommands(CLI::App& app, int& exit_code);

}  // namespace chunkvault::daemon

// chunkvaultd without a command: serve until SIGTERM or SIGINT.
#pragma once

#include <CLI/CLI.hpp>

namespace chunkvault::daemon {

// Adds the serving options to the top-level app and runs the server when no
// command was given.
void RegisterServe(CLI::App& app, int& exit_code);

}  // namespace chunkvault::daemon

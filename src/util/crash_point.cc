#include "util/crash_point.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace chunkvault {
namespace {

struct Config {
  bool armed = false;
  std::string name;
  long target = 1;
  std::atomic<long> hits{0};

  Config() {
    const char* spec = std::getenv("CHUNKVAULT_CRASH_AT");
    if (spec == nullptr || *spec == '\0') return;
    name = spec;
    if (auto colon = name.rfind(':'); colon != std::string::npos) {
      target = std::strtol(name.c_str() + colon + 1, nullptr, 10);
      name.resize(colon);
    }
    armed = true;
  }
};

Config& GetConfig() {
  static Config config;
  return config;
}

}  // namespace

void CrashPoint(const char* name) {
  Config& c = GetConfig();
  if (!c.armed || c.name != name) return;
  if (c.hits.fetch_add(1) + 1 == c.target) raise(SIGKILL);
}

}  // namespace chunkvault

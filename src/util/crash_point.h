// Deterministic crash points for crash-consistency tests.
//
// With CHUNKVAULT_CRASH_AT=NAME (or NAME:N) in the environment, the process
// kills itself with SIGKILL the first (N-th) time it reaches
// CrashPoint("NAME"): exactly what `kill -9` at that moment would do, but at
// a chosen point, so tests need no sleeps or races. Without the variable a
// crash point costs one relaxed atomic load.
#pragma once

namespace chunkvault {

void CrashPoint(const char* name);

}  // namespace chunkvault

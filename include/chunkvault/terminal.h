// Secrets typed at a terminal: a prompt on stderr, the answer read from
// stdin with echo off. Thread-safety: call from one thread at a time.
#pragma once

#include <string>

#include "chunkvault/status.h"

namespace chunkvault {

// One line typed without echo; kInvalidArgument if stdin is no terminal
// (`what` names what was wanted, for the message: "the key's passphrase").
Result<std::string> ReadHiddenLine(const char* prompt, const std::string& what);

// ReadHiddenLine twice; kInvalidArgument if the answers differ.
Result<std::string> ReadNewSecret(const char* prompt, const char* again_prompt,
                                  const std::string& what);

}  // namespace chunkvault

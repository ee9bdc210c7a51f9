#include "chunkvault/terminal.h"

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace chunkvault {

Result<std::string> ReadHiddenLine(const char* prompt, const std::string& what) {
  if (!::isatty(STDIN_FILENO))
    return Fail(ErrorCode::kInvalidArgument, "no " + what + ": not on a terminal");
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::fprintf(stderr, "%s", prompt);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  return line;
}

Result<std::string> ReadNewSecret(const char* prompt, const char* again_prompt,
                                  const std::string& what) {
  CV_ASSIGN_OR_RETURN(std::string first, ReadHiddenLine(prompt, what));
  CV_ASSIGN_OR_RETURN(std::string again, ReadHiddenLine(again_prompt, what));
  const bool same = first == again;
  OPENSSL_cleanse(again.data(), again.size());
  if (!same) {
    OPENSSL_cleanse(first.data(), first.size());
    return Fail(ErrorCode::kInvalidArgument, "the two " + what + "s differ");
  }
  return first;
}

}  // namespace chunkvault

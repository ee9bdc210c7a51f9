// chunkvaultd: the backup server PBS clients talk to (PBS's protocol on
// port 8007), and the commands that configure it.
#include <clocale>

#include "daemon/admin.h"
#include "daemon/serve.h"

int main(int argc, char** argv) {
  using namespace chunkvault::daemon;
  std::setlocale(LC_ALL, "");
  CLI::App app{
      "chunkvaultd: serves chunkvault datastores to PBS clients over HTTPS.\n"
      "Without a command it serves until SIGTERM.",
      "chunkvaultd"};
  app.require_subcommand(0, 1);
  int exit_code = kExitOk;
  RegisterServe(app, exit_code);
  RegisterAdminCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}

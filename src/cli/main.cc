// chunkvault: deduplicating backups in the Proxmox Backup Server datastore
// format. Each command lives in its own cmd_<name>.cc.
#include <malloc.h>

#include <clocale>
#include <cstdio>

#include "cli/common.h"

int main(int argc, char** argv) {
  using namespace chunkvault::cli;
  // Names and messages in the user's locale (libarchive converts with it).
  std::setlocale(LC_ALL, "");
  // Chunk-sized buffers (up to 16 MiB) come from the heap and stay there
  // for the next ones, instead of being mapped and unmapped by the
  // thousand; fixed thresholds also stop glibc adapting them
  // (docs/benchmarks.md, the malloc thresholds).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  CLI::App app{
      "chunkvault: deduplicating backups in the Proxmox Backup Server datastore format.\n"
      "The store comes from --store or CHUNKVAULT_STORE.",
      "chunkvault"};
  app.require_subcommand(1);
  int exit_code = kExitOk;
  RegisterInit(app, exit_code);
  RegisterBackup(app, exit_code);
  RegisterSnapshots(app, exit_code);
  RegisterRestore(app, exit_code);
  RegisterCat(app, exit_code);
  RegisterLs(app, exit_code);
  RegisterFind(app, exit_code);
  RegisterVerify(app, exit_code);
  RegisterForget(app, exit_code);
  RegisterProtect(app, exit_code);
  RegisterNotes(app, exit_code);
  RegisterInspect(app, exit_code);
  RegisterS3Refresh(app, exit_code);
  RegisterCache(app, exit_code);
  RegisterGc(app, exit_code);
  RegisterPrune(app, exit_code);
  RegisterNamespace(app, exit_code);
  RegisterKey(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}

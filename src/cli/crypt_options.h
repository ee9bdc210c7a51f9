// Keys on the command line: --keyfile (or CHUNKVAULT_KEYFILE, else the
// default key if one exists), the passphrase from
// CHUNKVAULT_ENCRYPTION_PASSWORD (or PBS_ENCRYPTION_PASSWORD) or a prompt
// without echo, never from argv; backup's --crypt-mode and
// --master-pubkey-file.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "chunkvault/backup.h"
#include "chunkvault/crypt.h"
#include "chunkvault/datastore.h"
#include "chunkvault/key_file.h"
#include "chunkvault/manifest.h"
#include "chunkvault/status.h"

namespace chunkvault::cli {

struct CryptArgs {
  std::string keyfile;
  std::string crypt_mode;          // backup: encrypt | sign-only | none
  std::string master_pubkey_file;  // backup
};

// What a command's --keyfile falls back to.
enum class KeyUse {
  kBackup,   // CHUNKVAULT_KEYFILE, the default key; with --crypt-mode, --master-pubkey-file
  kRead,     // CHUNKVAULT_KEYFILE, the default key (restore, cat)
  kExplicit  // CHUNKVAULT_KEYFILE only (verify: a key checks more, none is needed)
};
void AddKeyOptions(CLI::App* cmd, CryptArgs& args, KeyUse use);

// $XDG_CONFIG_HOME (or ~/.config) /chunkvault/encryption-key.json.
std::string DefaultKeyPath();

// A key file read and parsed (at most 64 KiB).
Result<KeyConfig> ReadKeyFile(const std::string& path);
// The passphrase for `config` (none needed without a kdf): from the
// environment, else asked for on the terminal.
Result<std::string> KeyPassphrase(const KeyConfig& config, const std::string& path);
// A key file's key, unlocked.
struct LoadedKey {
  std::shared_ptr<const CryptKey> key;
  int64_t created = 0;
  std::string path;
};
Result<LoadedKey> UnlockKeyFile(const std::string& path);

// The key a reading command uses: --keyfile, else CHUNKVAULT_KEYFILE,
// else (with `use_default`) the default key if it exists; null if none.
Result<std::shared_ptr<const CryptKey>> CommandKey(const CryptArgs& args, bool use_default);
// CommandKey (default included) if the snapshot's manifest (from `store`,
// or else `remote`) needs a key, else null: no passphrase is asked for a
// snapshot that needs none. A manifest that cannot be read needs none
// here: the read that follows says what is wrong with it.
Result<std::shared_ptr<const CryptKey>> KeyForSnapshot(const CryptArgs& args, Datastore* store,
                                                       SnapshotReader* remote,
                                                       const SnapshotRef& snap);

// Fills `options`' crypt mode, key and master key blob from the backup's
// arguments: the key as CommandKey finds it (not looked for with
// --crypt-mode none); the mode encrypt when a key is found, none if not.
// Says on stderr which key is used (its short fingerprint).
Status ApplyBackupCrypt(const CryptArgs& args, BackupOptions& options);

}  // namespace chunkvault::cli

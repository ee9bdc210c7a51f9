#include "cli/crypt_options.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>

#include "chunkvault/env.h"
#include "chunkvault/restore.h"
#include "chunkvault/terminal.h"

namespace chunkvault::cli {
namespace {

constexpr uint64_t kMaxKeyFileSize = 64 << 10;
constexpr uint64_t kMaxPemSize = 64 << 10;

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

// The key file a command names, or the default one if it exists.
Result<std::string> KeyFilePath(const CryptArgs& args, bool use_default = true) {
  if (!args.keyfile.empty()) return args.keyfile;
  if (std::string env = EnvOr("CHUNKVAULT_KEYFILE"); !env.empty()) return env;
  if (!use_default) return std::string();
  const std::string def = DefaultKeyPath();
  if (def.empty() || !Env::Default()->Stat(def)) return std::string();
  return def;
}

}  // namespace

void AddKeyOptions(CLI::App* cmd, CryptArgs& args, KeyUse use) {
  const std::string fallback =
      use == KeyUse::kExplicit
          ? "or CHUNKVAULT_KEYFILE"
          : "or CHUNKVAULT_KEYFILE; default: " + DefaultKeyPath() + " if it exists";
  cmd->add_option("--keyfile", args.keyfile,
                  "Encryption key file (" + fallback +
                      "); its passphrase comes from CHUNKVAULT_ENCRYPTION_PASSWORD or a prompt");
  if (use != KeyUse::kBackup) return;
  cmd->add_option("--crypt-mode", args.crypt_mode,
                  "encrypt (the default with a key), sign-only (plain data, signed manifest) "
                  "or none")
      ->check(CLI::IsMember({"encrypt", "sign-only", "none"}));
  cmd->add_option("--master-pubkey-file", args.master_pubkey_file,
                  "Also store the key encrypted for this RSA master public key (PEM), as "
                  "rsa-encrypted.key.blob");
}

std::string DefaultKeyPath() {
  std::string base = EnvOr("XDG_CONFIG_HOME");
  if (base.empty()) {
    const std::string home = EnvOr("HOME");
    if (home.empty()) return "";
    base = home + "/.config";
  }
  return base + "/chunkvault/encryption-key.json";
}

Result<KeyConfig> ReadKeyFile(const std::string& path) {
  CV_ASSIGN_OR_RETURN(Bytes raw,
                      WithContext(Env::Default()->ReadFile(path, kMaxKeyFileSize), path));
  auto config = KeyConfig::Parse(AsString(raw));
  OPENSSL_cleanse(raw.data(), raw.size());
  return WithContext(std::move(config), path);
}

Result<std::string> KeyPassphrase(const KeyConfig& config, const std::string& path) {
  if (!config.kdf) return std::string();
  for (const char* name : {"CHUNKVAULT_ENCRYPTION_PASSWORD", "PBS_ENCRYPTION_PASSWORD"})
    if (std::string v = EnvOr(name); !v.empty()) return v;
  return ReadHiddenLine(
      "Encryption Key Password: ",
      "passphrase for " + path + " (set CHUNKVAULT_ENCRYPTION_PASSWORD or run on a terminal)");
}

Result<LoadedKey> UnlockKeyFile(const std::string& path) {
  CV_ASSIGN_OR_RETURN(KeyConfig config, ReadKeyFile(path));
  CV_ASSIGN_OR_RETURN(std::string passphrase, KeyPassphrase(config, path));
  auto key = config.Unlock(passphrase);
  OPENSSL_cleanse(passphrase.data(), passphrase.size());
  if (!key) return std::unexpected(std::move(key).error().Context(path));
  return LoadedKey{std::make_shared<const CryptKey>(*key), config.created, path};
}

Result<std::shared_ptr<const CryptKey>> CommandKey(const CryptArgs& args, bool use_default) {
  CV_ASSIGN_OR_RETURN(std::string path, KeyFilePath(args, use_default));
  if (path.empty()) return std::shared_ptr<const CryptKey>();
  CV_ASSIGN_OR_RETURN(LoadedKey loaded, UnlockKeyFile(path));
  return loaded.key;
}

Result<std::shared_ptr<const CryptKey>> KeyForSnapshot(const CryptArgs& args, Datastore* store,
                                                       SnapshotReader* remote,
                                                       const SnapshotRef& snap) {
  auto manifest = store ? store->ReadManifest(snap) : ReadManifest(*remote);
  if (!manifest) return std::shared_ptr<const CryptKey>();
  auto made_with = manifest->KeyFingerprintOf();
  if (!manifest->NeedsKey() && made_with && !*made_with) return std::shared_ptr<const CryptKey>();
  return CommandKey(args, /*use_default=*/true);
}

Status ApplyBackupCrypt(const CryptArgs& args, BackupOptions& options) {
  CryptMode mode = CryptMode::kEncrypt;
  if (!args.crypt_mode.empty()) {
    CV_ASSIGN_OR_RETURN(mode, ParseCryptMode(args.crypt_mode));
  }
  if (mode == CryptMode::kNone) {
    if (!args.keyfile.empty() || !args.master_pubkey_file.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "--crypt-mode none takes no --keyfile or --master-pubkey-file");
    return {};
  }
  CV_ASSIGN_OR_RETURN(std::string path, KeyFilePath(args));
  if (path.empty()) {
    if (!args.crypt_mode.empty() || !args.master_pubkey_file.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "--crypt-mode " + std::string(CryptModeName(mode)) +
                      " needs a key: --keyfile, CHUNKVAULT_KEYFILE or 'chunkvault key create'");
    return {};  // no key anywhere: a plain backup
  }
  CV_ASSIGN_OR_RETURN(LoadedKey loaded, UnlockKeyFile(path));
  std::fprintf(stderr, "chunkvault: %s with key %s (%s)\n",
               mode == CryptMode::kEncrypt ? "encrypting" : "signing",
               loaded.key->fingerprint().Short().c_str(), path.c_str());
  if (!args.master_pubkey_file.empty()) {
    CV_ASSIGN_OR_RETURN(Bytes pem,
                        WithContext(Env::Default()->ReadFile(args.master_pubkey_file, kMaxPemSize),
                                    args.master_pubkey_file));
    CV_ASSIGN_OR_RETURN(
        options.master_key_blob,
        WithContext(WrapKeyForMaster(AsString(pem), loaded.key->key(), loaded.created),
                    args.master_pubkey_file));
  }
  options.key = std::move(loaded.key);
  options.crypt_mode = mode;
  return {};
}

}  // namespace chunkvault::cli

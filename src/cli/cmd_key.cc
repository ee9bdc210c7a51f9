// chunkvault key create | show | change-passphrase | create-master-key |
//                import-with-master-key | paperkey
// Encryption keys in PBS's key file format (chunkvault/key_file.h), as
// proxmox-backup-client's key commands make and read them. Passphrases
// come from the environment or a prompt without echo, never from argv, and
// nothing printed holds key material (but the paper key, which is for
// printing).
#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>

#include "chunkvault/blob.h"
#include "chunkvault/env.h"
#include "chunkvault/key_file.h"
#include "chunkvault/terminal.h"
#include "cli/common.h"
#include "cli/crypt_options.h"
#include "cli/paperkey.h"

namespace chunkvault::cli {
namespace {

constexpr uint64_t kMaxPemSize = 64 << 10;

struct KeyArgs {
  std::string path;
  std::string kdf = "scrypt";
  std::string hint;
  bool json = false;
  // create-master-key
  std::string output_dir = ".";
  int bits = 4096;
  // import-with-master-key
  std::string master_keyfile, encrypted_keyfile;
  // paperkey
  std::string subject;
};

// A secret wiped when it goes.
struct Secret {
  std::string value;
  ~Secret() { OPENSSL_cleanse(value.data(), value.size()); }
};

std::string EnvOr(std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return v;
  return "";
}

// A new passphrase: from `env` (for scripts), else typed twice.
Result<std::string> NewPassphrase(std::initializer_list<const char*> env, const char* prompt,
                                  const std::string& what) {
  if (std::string v = EnvOr(env); !v.empty()) return v;
  return ReadNewSecret(prompt, "Verify Password: ", what);
}

std::string KeyPathOrDefault(const std::string& path) {
  return path.empty() ? DefaultKeyPath() : path;
}

// Writes a key file, mode 0600: a new one never replaces a file.
Status StoreKeyFile(const std::string& path, const KeyConfig& config, bool replace) {
  Env* env = Env::Default();
  if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0)
    CV_RETURN_IF_ERROR(env->CreateDirs(path.substr(0, slash), 0700));
  std::string text = config.ToJson();
  WriteOptions wo;
  wo.mode = 0600;
  wo.sync = true;
  Status st;
  if (replace) {
    st = env->WriteFileAtomic(path, AsBytes(text), wo);
  } else {
    auto created = env->WriteFileIfAbsent(path, AsBytes(text), wo);
    if (!created)
      st = std::unexpected(created.error());
    else if (!*created)
      st = Fail(ErrorCode::kAlreadyExists, path + " exists; a key file is never replaced");
  }
  OPENSSL_cleanse(text.data(), text.size());
  return WithContext(std::move(st), "storing key file " + path);
}

// The new key file for `key`: protected with a new passphrase unless the
// kdf is none.
Result<KeyConfig> ProtectNew(const SecretKey& key, const KeyArgs& args, int64_t created) {
  CV_ASSIGN_OR_RETURN(Kdf kdf, ParseKdf(args.kdf));
  if (kdf == Kdf::kNone && !args.hint.empty())
    return Fail(ErrorCode::kInvalidArgument, "a passphrase hint needs a kdf (scrypt or pbkdf2)");
  Secret pass;
  if (kdf != Kdf::kNone) {
    CV_ASSIGN_OR_RETURN(pass.value,
                        NewPassphrase({"CHUNKVAULT_ENCRYPTION_PASSWORD", "PBS_ENCRYPTION_PASSWORD"},
                                      "Encryption Key Password: ",
                                      "passphrase (set CHUNKVAULT_ENCRYPTION_PASSWORD "
                                      "or run on a terminal)"));
  }
  CV_ASSIGN_OR_RETURN(KeyConfig config,
                      KeyConfig::Protect(key, kdf, pass.value, Env::Default()->NowUnix()));
  config.created = created ? created : config.created;
  if (!args.hint.empty()) config.hint = args.hint;
  return config;
}

nlohmann::json InfoJson(const std::string& path, const KeyConfig& c) {
  nlohmann::json j = {{"path", path},
                      {"kdf", KdfName(c.kdf_kind())},
                      {"created", FormatLocalRfc3339(c.created)},
                      {"modified", FormatLocalRfc3339(c.modified)}};
  if (c.fingerprint) j["fingerprint"] = c.fingerprint->Full();
  if (c.hint) j["hint"] = *c.hint;
  return j;
}

void Report(const KeyArgs& args, const std::string& what, const std::string& path,
            const KeyConfig& config) {
  if (args.json) {
    PrintJson(InfoJson(path, config));
  } else {
    std::printf("%s %s (fingerprint %s)\n", what.c_str(), path.c_str(),
                config.fingerprint ? config.fingerprint->Short().c_str() : "-");
  }
}

// Protects `key` with a new passphrase into a new key file at `path`.
int StoreNewKey(const SecretKey& key, const KeyArgs& args, int64_t created, const std::string& path,
                const std::string& what) {
  if (path.empty())
    return ReportError(Error(ErrorCode::kInvalidArgument, "no PATH and no HOME for the default"));
  auto config = ProtectNew(key, args, created);
  if (!config) return ReportError(config.error());
  if (auto st = StoreKeyFile(path, *config, false); !st) return ReportError(st.error());
  Report(args, what, path, *config);
  return kExitOk;
}

int RunCreate(const KeyArgs& args) {
  return StoreNewKey(SecretKey::Random(), args, 0, KeyPathOrDefault(args.path), "created key");
}

int RunShow(const KeyArgs& args) {
  const std::string path = KeyPathOrDefault(args.path);
  auto config = ReadKeyFile(path);
  if (!config) return ReportError(config.error());
  if (args.json) {
    PrintJson(InfoJson(path, *config));
    return kExitOk;
  }
  const nlohmann::json info = InfoJson(path, *config);
  for (const char* field : {"path", "kdf", "created", "modified", "fingerprint", "hint"})
    if (info.contains(field))
      std::printf("%-12s %s\n", field, info[field].get<std::string>().c_str());
  return kExitOk;
}

int RunChangePassphrase(const KeyArgs& args) {
  const std::string path = KeyPathOrDefault(args.path);
  auto old = ReadKeyFile(path);
  if (!old) return ReportError(old.error());
  Result<SecretKey> key = Fail(ErrorCode::kInternal, "unset");
  {
    Secret pass;
    if (old->kdf) {
      // The old one from CHUNKVAULT_ENCRYPTION_PASSWORD, the new one from
      // CHUNKVAULT_NEW_ENCRYPTION_PASSWORD (scripts), or both typed.
      auto p = KeyPassphrase(*old, path);
      if (!p) return ReportError(p.error());
      pass.value = std::move(*p);
    }
    key = old->Unlock(pass.value);
  }
  if (!key) return ReportError(key.error().Context(path));
  auto kdf = ParseKdf(args.kdf);
  if (!kdf) return ReportError(kdf.error());
  Secret fresh;
  if (*kdf != Kdf::kNone) {
    auto p = NewPassphrase({"CHUNKVAULT_NEW_ENCRYPTION_PASSWORD"}, "New Password: ",
                           "new passphrase (set CHUNKVAULT_NEW_ENCRYPTION_PASSWORD or run on a "
                           "terminal)");
    if (!p) return ReportError(p.error());
    fresh.value = std::move(*p);
  }
  if (*kdf == Kdf::kNone && !args.hint.empty())
    return ReportError(
        Error(ErrorCode::kInvalidArgument, "a passphrase hint needs a kdf (scrypt or pbkdf2)"));
  auto config = KeyConfig::Protect(*key, *kdf, fresh.value, Env::Default()->NowUnix());
  if (!config) return ReportError(config.error());
  config->created = old->created;
  if (!args.hint.empty()) config->hint = args.hint;
  if (auto st = StoreKeyFile(path, *config, true); !st) return ReportError(st.error());
  Report(args, "changed the passphrase of", path, *config);
  return kExitOk;
}

int RunCreateMasterKey(const KeyArgs& args) {
  // 3072 bits at least: a 2048-bit block holds less than a key file.
  if (args.bits < 3072 || args.bits > 16384)
    return ReportError(Error(ErrorCode::kInvalidArgument, "--bits must be 3072 to 16384"));
  Env* env = Env::Default();
  const std::string pub_path = JoinPath(args.output_dir, "master-public.pem");
  const std::string priv_path = JoinPath(args.output_dir, "master-private.pem");
  if (env->Stat(priv_path))
    return ReportError(
        Error(ErrorCode::kAlreadyExists, priv_path + " exists; a master key is never replaced"));
  Secret pass;
  {
    auto p = NewPassphrase({"CHUNKVAULT_MASTER_KEY_PASSWORD"}, "Master Key Password: ",
                           "master key passphrase (set CHUNKVAULT_MASTER_KEY_PASSWORD or run on a "
                           "terminal)");
    if (!p) return ReportError(p.error());
    pass.value = std::move(*p);
  }
  std::fprintf(stderr, "chunkvault: generating a %d-bit RSA key...\n", args.bits);
  auto pair = CreateMasterKey(pass.value, args.bits);
  if (!pair) return ReportError(pair.error());
  WriteOptions priv_opts;
  priv_opts.mode = 0600;
  priv_opts.sync = true;
  auto made = env->WriteFileIfAbsent(priv_path, AsBytes(pair->private_pem), priv_opts);
  if (!made) return ReportError(made.error());
  if (!*made)
    return ReportError(Error(ErrorCode::kAlreadyExists, priv_path + " appeared meanwhile"));
  WriteOptions pub_opts;
  pub_opts.mode = 0644;
  pub_opts.sync = true;
  if (auto st = env->WriteFileAtomic(pub_path, AsBytes(pair->public_pem), pub_opts); !st)
    return ReportError(st.error());
  if (args.json) {
    PrintJson({{"public", pub_path},
               {"private", priv_path},
               {"bits", pair->bits},
               {"exponent", pair->exponent},
               {"modulus", pair->modulus_hex}});
  } else {
    std::printf("public master key:  %s\nprivate master key: %s (keep it apart from the backups)\n",
                pub_path.c_str(), priv_path.c_str());
  }
  return kExitOk;
}

int RunImportWithMasterKey(const KeyArgs& args) {
  const std::string path = KeyPathOrDefault(args.path);
  Env* env = Env::Default();
  auto pem = WithContext(env->ReadFile(args.master_keyfile, kMaxPemSize), args.master_keyfile);
  if (!pem) return ReportError(pem.error());
  auto wrapped =
      WithContext(env->ReadFile(args.encrypted_keyfile, kMaxPemSize), args.encrypted_keyfile);
  if (!wrapped) return ReportError(wrapped.error());
  // The blob as stored in a snapshot, or its content (restore writes that).
  if (auto info = InspectBlob(*wrapped); info) {
    auto data = DecodeBlob(*wrapped, kMaxPemSize);
    if (!data) return ReportError(data.error().Context(args.encrypted_keyfile));
    *wrapped = std::move(*data);
  }
  Result<KeyConfig> inner = Fail(ErrorCode::kInternal, "unset");
  {
    Secret pass;
    auto p = EnvOr({"CHUNKVAULT_MASTER_KEY_PASSWORD"});
    if (p.empty()) {
      auto typed = ReadHiddenLine("Master Key Password: ",
                                  "master key passphrase (set CHUNKVAULT_MASTER_KEY_PASSWORD or "
                                  "run on a terminal)");
      if (!typed) return ReportError(typed.error());
      p = std::move(*typed);
    }
    pass.value = std::move(p);
    inner = UnwrapWithMasterKey(AsString(*pem), pass.value, *wrapped);
  }
  if (!inner) return ReportError(inner.error().Context(args.encrypted_keyfile));
  auto key = inner->Unlock("");
  if (!key) return ReportError(key.error().Context(args.encrypted_keyfile));
  return StoreNewKey(*key, args, inner->created, path, "imported key");
}

int RunPaperKey(const KeyArgs& args) {
  const std::string path = KeyPathOrDefault(args.path);
  auto raw = Env::Default()->ReadFile(path, kMaxPemSize);
  if (!raw) return ReportError(raw.error().Context(path));
  auto text = PaperKeyText(std::string(AsString(*raw)), args.subject);
  OPENSSL_cleanse(raw->data(), raw->size());
  if (!text) return ReportError(text.error().Context(path));
  std::fwrite(text->data(), 1, text->size(), stdout);
  OPENSSL_cleanse(text->data(), text->size());
  return kExitOk;
}

CLI::App* Leaf(CLI::App* parent, const char* name, const char* help,
               const std::shared_ptr<KeyArgs>& args, int (*run)(const KeyArgs&), int& exit_code) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->callback([args, run, &exit_code] { exit_code = run(*args); });
  return cmd;
}

void AddKdf(CLI::App* cmd, KeyArgs& args) {
  cmd->add_option("--kdf", args.kdf, "scrypt (default), pbkdf2, or none (no passphrase)")
      ->check(CLI::IsMember({"scrypt", "pbkdf2", "none"}));
  cmd->add_option("--hint", args.hint, "A passphrase hint stored in the key file (max 64 bytes)");
}

}  // namespace

void RegisterKey(CLI::App& app, int& exit_code) {
  CLI::App* key = app.add_subcommand("key",
                                     "Encryption keys in PBS's key file format (passphrases from "
                                     "CHUNKVAULT_ENCRYPTION_PASSWORD or a prompt)");
  key->require_subcommand(1);
  const std::string default_path = "default: " + DefaultKeyPath();

  auto create_args = std::make_shared<KeyArgs>();
  CLI::App* create = Leaf(key, "create", "Create a new key file (never replaces one)", create_args,
                          RunCreate, exit_code);
  create->add_option("path", create_args->path, "Key file (" + default_path + ")");
  AddKdf(create, *create_args);
  create->add_flag("--json", create_args->json, "Print JSON for scripts");

  auto show_args = std::make_shared<KeyArgs>();
  CLI::App* show =
      Leaf(key, "show", "A key file's kdf, times and fingerprint", show_args, RunShow, exit_code);
  show->add_option("path", show_args->path, "Key file (" + default_path + ")");
  show->add_flag("--json", show_args->json, "Print JSON for scripts");

  auto change_args = std::make_shared<KeyArgs>();
  CLI::App* change = Leaf(key, "change-passphrase",
                          "Protect a key with a new passphrase (the old one from "
                          "CHUNKVAULT_ENCRYPTION_PASSWORD, the new one from "
                          "CHUNKVAULT_NEW_ENCRYPTION_PASSWORD, or prompts)",
                          change_args, RunChangePassphrase, exit_code);
  change->add_option("path", change_args->path, "Key file (" + default_path + ")");
  AddKdf(change, *change_args);
  change->add_flag("--json", change_args->json, "Print JSON for scripts");

  auto master_args = std::make_shared<KeyArgs>();
  CLI::App* master = Leaf(key, "create-master-key",
                          "Create an RSA master key pair: master-public.pem for backups "
                          "(--master-pubkey-file), master-private.pem (passphrase from "
                          "CHUNKVAULT_MASTER_KEY_PASSWORD or a prompt) to recover their keys",
                          master_args, RunCreateMasterKey, exit_code);
  master->add_option("--output-dir", master_args->output_dir,
                     "Where to write the two files (default: the current directory)");
  master->add_option("--bits", master_args->bits, "RSA key size (default 4096, as PBS)");
  master->add_flag("--json", master_args->json, "Print JSON for scripts");

  auto import_args = std::make_shared<KeyArgs>();
  CLI::App* import = Leaf(key, "import-with-master-key",
                          "Recover a backup's key from its rsa-encrypted.key.blob with the "
                          "master private key, into a new key file",
                          import_args, RunImportWithMasterKey, exit_code);
  import->add_option("master-keyfile", import_args->master_keyfile, "master-private.pem")
      ->required();
  import
      ->add_option("encrypted-keyfile", import_args->encrypted_keyfile,
                   "rsa-encrypted.key.blob as stored, or as 'chunkvault restore' writes it")
      ->required();
  import->add_option("path", import_args->path, "New key file (" + default_path + ")");
  AddKdf(import, *import_args);
  import->add_flag("--json", import_args->json, "Print JSON for scripts");

  auto paper_args = std::make_shared<KeyArgs>();
  CLI::App* paper = Leaf(key, "paperkey",
                         "Print a key file (or master-private.pem) as text with QR codes, for "
                         "paper",
                         paper_args, RunPaperKey, exit_code);
  paper->add_option("path", paper_args->path, "Key file or PEM private key (" + default_path + ")");
  paper->add_option("--subject", paper_args->subject, "A title line");
}

}  // namespace chunkvault::cli

// Client-side encryption through the chunkvault binary on a local store:
// keys, encrypted and signed backups, restore and verify with, without and
// with the wrong key, tampering, the master key and the paper key.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/key_file.h"
#include "chunkvault/manifest.h"
#include "support/cli_runner.h"
#include "support/process.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

constexpr char kPassphrase[] = "correct horse battery";
constexpr char kMarker[] = "chunkvault-plaintext-marker-5f3a9c";

RunOptions WithEnv(std::map<std::string, std::string> env) {
  RunOptions o;
  o.env = std::move(env);
  return o;
}

class CryptCli : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_ = std::make_unique<testing::CliRunner>(CV_BINARY, tmp_ / "store");
    // A home of its own: no default key of the machine's is found.
    runner_->env()["HOME"] = tmp_ / "home";
    runner_->env()["XDG_CONFIG_HOME"] = tmp_ / "home/.config";
    runner_->env()["CHUNKVAULT_ENCRYPTION_PASSWORD"] = kPassphrase;
    runner_->Init();
    fs::create_directories(tmp_ / "src/sub");
    testing::WriteFile(tmp_ / "src/marker.txt", std::string(kMarker) + "\n");
    testing::MakeSampleTree(tmp_ / "src/sub");
  }

  RunResult cv(std::vector<std::string> args, RunOptions options = {}) {
    RunResult r = runner_->Run(std::move(args), std::move(options));
    // No run prints the passphrase.
    EXPECT_EQ(r.out.find(kPassphrase), std::string::npos);
    EXPECT_EQ(r.err.find(kPassphrase), std::string::npos);
    return r;
  }
  nlohmann::json Json(const RunResult& r) { return testing::CliRunner::Json(r); }

  std::string MakeKey(const std::string& name, const std::string& kdf = "scrypt") {
    const std::string path = tmp_ / name;
    RunResult r = cv({"key", "create", path, "--kdf", kdf});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }
  std::string Fingerprint(const std::string& key) {
    return Json(cv({"key", "show", "--json", key}))["fingerprint"];
  }
  nlohmann::json Backup(std::vector<std::string> args) {
    args.insert(args.begin(), {"backup", "--json", "--backup-id", "box"});
    args.push_back("root.tar:" + (tmp_ / "src"));
    return Json(cv(args));
  }
  // Every file under the store that holds `needle`.
  std::vector<std::string> FilesHolding(const std::string& needle) {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(runner_->store()))
      if (e.is_regular_file() && testing::ReadFile(e.path()).find(needle) != std::string::npos)
        out.push_back(e.path());
    return out;
  }
  std::string SnapDir(const std::string& snap) { return runner_->store() + "/" + snap; }

  TempDir tmp_;
  std::unique_ptr<testing::CliRunner> runner_;
};

TEST_F(CryptCli, KeyFilesAreCreatedPrivateAndNeverReplaced) {
  const std::string key = MakeKey("k.json");
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto info = Json(cv({"key", "show", "--json", key}));
  EXPECT_EQ(info["kdf"], "scrypt");
  EXPECT_EQ(info["fingerprint"].get<std::string>().size(), 95u);
  const std::string before = testing::ReadFile(key);
  RunResult again = cv({"key", "create", key});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  EXPECT_EQ(testing::ReadFile(key), before);
  // The default place, under the config directory.
  RunResult def = cv({"key", "create", "--kdf", "pbkdf2", "--json"});
  ASSERT_EQ(def.exit_code, 0) << def.err;
  EXPECT_TRUE(fs::exists(tmp_ / "home/.config/chunkvault/encryption-key.json"));
  // The key material itself is printed nowhere.
  auto config = KeyConfig::Parse(before);
  ASSERT_TRUE(config);
  EXPECT_EQ(again.out.find(Base64Encode(config->data)), std::string::npos);
  // No passphrase anywhere: a clear error, not a prompt on a pipe.
  RunResult none = cv({"key", "create", tmp_ / "k2.json"}, [] {
    RunOptions o;
    o.unset_env = {"CHUNKVAULT_ENCRYPTION_PASSWORD"};
    return o;
  }());
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("CHUNKVAULT_ENCRYPTION_PASSWORD"), std::string::npos) << none.err;
}

TEST_F(CryptCli, EncryptedBackupRestoresOnlyWithItsKey) {
  const std::string key = MakeKey("k.json");
  const std::string other = MakeKey("other.json", "pbkdf2");
  auto first = Backup({"--keyfile", key});
  const std::string snap = first["snapshot"];
  // Nothing in the store holds the plaintext.
  EXPECT_EQ(FilesHolding(kMarker), std::vector<std::string>{});
  auto manifest = Json(cv({"cat", "--keyfile", key, snap, "index.json"}));
  EXPECT_EQ(manifest["files"][0]["crypt-mode"], "encrypt");
  EXPECT_EQ(manifest["unprotected"]["key-fingerprint"], Fingerprint(key));
  EXPECT_EQ(manifest["signature"].get<std::string>().size(), 64u);

  RunResult ok = cv({"restore", "--keyfile", key, snap, tmp_ / "dst"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "dst/root"), std::vector<std::string>{});

  const std::string short_fp = Fingerprint(key).substr(0, 23);
  RunResult none = cv({"restore", snap, tmp_ / "none"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no key was given"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find(short_fp), std::string::npos) << none.err;
  RunResult wrong = cv({"restore", "--keyfile", other, snap, tmp_ / "wrong"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find(short_fp), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find(Fingerprint(other).substr(0, 23)), std::string::npos) << wrong.err;
  // CHUNKVAULT_KEYFILE names the key as --keyfile does.
  RunResult env = cv({"cat", snap, "root.tar"}, WithEnv({{"CHUNKVAULT_KEYFILE", key}}));
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find(kMarker), std::string::npos);
  // A wrong passphrase is a clear error.
  RunResult bad_pass = cv({"restore", "--keyfile", key, snap, tmp_ / "bp"},
                          WithEnv({{"CHUNKVAULT_ENCRYPTION_PASSWORD", "not the one"}}));
  EXPECT_EQ(bad_pass.exit_code, 1);
  EXPECT_NE(bad_pass.err.find("passphrase does not open the key"), std::string::npos)
      << bad_pass.err;
}

TEST_F(CryptCli, DedupHoldsWithinAKeyAndNeverAcrossKeys) {
  const std::string key = MakeKey("k.json");
  const std::string other = MakeKey("other.json", "pbkdf2");
  auto first = Backup({"--keyfile", key});
  EXPECT_GT(first["new-chunks"].get<int>(), 0);
  auto second = Backup({"--keyfile", key});
  EXPECT_EQ(second["new-chunks"], 0);
  auto third = Backup({"--keyfile", other});
  EXPECT_EQ(third["new-chunks"], third["chunks"]);
  auto plain = Backup({"--crypt-mode", "none"});
  EXPECT_EQ(plain["new-chunks"], plain["chunks"]);
}

// Metadata change detection reuses an encrypted archive's chunks only
// under the key that made them: another key, or none, reads every file.
TEST_F(CryptCli, ChangeDetectionReusesOnlyUnderTheSameKey) {
  const std::string key = MakeKey("k.json");
  const std::string other = MakeKey("other.json", "pbkdf2");
  auto pxar = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"backup", "--json", "--backup-id", "px"});
    args.push_back("root.pxar:" + (tmp_ / "src"));
    return cv(args);
  };
  ASSERT_EQ(pxar({"--keyfile", key}).exit_code, 0);
  nlohmann::json again = Json(pxar({"--keyfile", key}));
  ASSERT_TRUE(again.contains("reuse")) << again.dump();
  EXPECT_GT(again["reuse"]["files-reused"].get<uint64_t>(), 5u);
  EXPECT_EQ(again["reuse"]["bytes-read"], 0);
  RunResult r = pxar({"--keyfile", other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Json(r).contains("reuse")) << r.out;
  EXPECT_NE(r.err.find("cannot be reused"), std::string::npos) << r.err;
  r = pxar({"--crypt-mode", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Json(r).contains("reuse")) << r.out;
}

TEST_F(CryptCli, VerifySaysWhatItCheckedWithAndWithoutTheKey) {
  const std::string key = MakeKey("k.json");
  const std::string snap = Backup({"--keyfile", key})["snapshot"];
  auto keyless = Json(cv({"verify", "--json"}));
  EXPECT_EQ(keyless["ok"], true);
  EXPECT_GT(keyless["keyless-chunks"].get<int>(), 0);
  EXPECT_EQ(keyless["chunk-bytes"], 0);
  RunResult text = cv({"verify"});
  EXPECT_NE(text.out.find("without their key"), std::string::npos) << text.out;
  auto keyed = Json(cv({"verify", "--json", "--keyfile", key}));
  EXPECT_EQ(keyed["ok"], true);
  EXPECT_EQ(keyed["keyless-chunks"], 0);
  EXPECT_GT(keyed["chunk-bytes"].get<int>(), 0);
}

TEST_F(CryptCli, AFlippedBitInAnEncryptedChunkIsNamed) {
  const std::string key = MakeKey("k.json");
  const std::string snap = Backup({"--keyfile", key})["snapshot"];
  const std::vector<std::string> chunks = testing::ChunkFilePaths(runner_->store());
  ASSERT_FALSE(chunks.empty());
  // Inside the ciphertext, with the CRC made to fit: only GCM can tell.
  std::string blob = testing::ReadFile(chunks[0]);
  blob[kEncryptedBlobHeaderSize + 3] ^= 0x10;
  Bytes raw(blob.begin(), blob.end());
  StoreLe32(raw.data() + 8, Crc32(ByteView(raw).subspan(kEncryptedBlobHeaderSize)));
  testing::WriteFile(chunks[0], std::string(raw.begin(), raw.end()));
  const std::string digest = fs::path(chunks[0]).filename();
  RunResult restore = cv({"restore", "--keyfile", key, snap, tmp_ / "dst"});
  EXPECT_EQ(restore.exit_code, 1);
  EXPECT_NE(restore.err.find(digest), std::string::npos) << restore.err;
  EXPECT_NE(restore.err.find("authentication failed"), std::string::npos) << restore.err;
  // Without the key the CRC holds: a server cannot tell. With it, verify can.
  EXPECT_EQ(Json(cv({"verify", "--json", "--keep-bad"}))["ok"], true);
  RunResult keyed = cv({"verify", "--json", "--keep-bad", "--keyfile", key});
  EXPECT_EQ(keyed.exit_code, 1);
  EXPECT_NE(keyed.out.find(digest), std::string::npos) << keyed.out;
}

TEST_F(CryptCli, AChangedManifestFailsItsSignature) {
  const std::string key = MakeKey("k.json");
  const std::string snap = Backup({"--keyfile", key})["snapshot"];
  const std::string path = SnapDir(snap) + "/index.json.blob";
  auto m = Manifest::DecodeBlob(AsBytes(testing::ReadFile(path)));
  ASSERT_TRUE(m);
  // Claim another file's checksum for the archive, as one would to swap
  // in another index.
  m->files[0].csum[0] ^= 1;
  const Bytes changed = m->EncodeBlob();
  testing::WriteFile(path, std::string(changed.begin(), changed.end()));
  RunResult r = cv({"restore", "--keyfile", key, snap, tmp_ / "dst"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("signature"), std::string::npos) << r.err;
}

TEST_F(CryptCli, SignOnlyStoresPlainDataUnderASignedManifest) {
  const std::string key = MakeKey("k.json");
  auto out = Backup({"--keyfile", key, "--crypt-mode", "sign-only"});
  const std::string snap = out["snapshot"];
  EXPECT_FALSE(FilesHolding(kMarker).empty());  // the chunks are plain
  auto manifest = Json(cv({"cat", "--keyfile", key, snap, "index.json"}));
  EXPECT_EQ(manifest["files"][0]["crypt-mode"], "sign-only");
  EXPECT_TRUE(manifest["signature"].is_string());
  RunResult ok = cv({"restore", "--keyfile", key, snap, tmp_ / "dst"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  RunResult none = cv({"restore", snap, tmp_ / "none"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("signed with key"), std::string::npos) << none.err;
  // verify without the key checks sign-only chunks in full.
  auto v = Json(cv({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["keyless-chunks"], 0);
  // A mode that needs a key, and none: refused before anything is written.
  RunResult no_key = cv({"backup", "--crypt-mode", "encrypt", "root.tar:" + (tmp_ / "src")});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_NE(no_key.err.find("needs a key"), std::string::npos) << no_key.err;
}

TEST_F(CryptCli, TheMasterKeyRecoversALostKeyFile) {
  const std::string key = MakeKey("k.json");
  const std::string fingerprint = Fingerprint(key);
  RunOptions master_env = WithEnv({{"CHUNKVAULT_MASTER_KEY_PASSWORD", "master secret"}});
  RunResult made =
      cv({"key", "create-master-key", "--bits", "3072", "--output-dir", tmp_ / "."}, master_env);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  struct stat st {};
  ASSERT_EQ(::stat((tmp_ / "master-private.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string snap =
      Backup({"--keyfile", key, "--master-pubkey-file", tmp_ / "master-public.pem"})["snapshot"];
  auto manifest = Json(cv({"cat", "--keyfile", key, snap, "index.json"}));
  bool listed = false;
  for (auto& f : manifest["files"])
    if (f["filename"] == "rsa-encrypted.key.blob") listed = f["crypt-mode"] == "encrypt";
  EXPECT_TRUE(listed) << manifest.dump();
  fs::remove(key);  // lost

  // Without the key, only the wrapped key can be restored (as PBS allows).
  RunResult blob = cv({"restore", snap, "rsa-encrypted.key.blob", tmp_ / "wrapped.bin"});
  ASSERT_EQ(blob.exit_code, 0) << blob.err;
  RunOptions import_env = master_env;
  import_env.env["CHUNKVAULT_ENCRYPTION_PASSWORD"] = "a new passphrase";
  RunResult imported = cv({"key", "import-with-master-key", tmp_ / "master-private.pem",
                           tmp_ / "wrapped.bin", tmp_ / "recovered.json"},
                          import_env);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(Fingerprint(tmp_ / "recovered.json"), fingerprint);
  RunResult restored = cv({"restore", "--keyfile", tmp_ / "recovered.json", snap, tmp_ / "dst"},
                          WithEnv({{"CHUNKVAULT_ENCRYPTION_PASSWORD", "a new passphrase"}}));
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(testing::ReadFile(tmp_ / "dst/root/marker.txt"), std::string(kMarker) + "\n");
  // The wrong master passphrase is a clear error.
  RunResult wrong = cv({"key", "import-with-master-key", tmp_ / "master-private.pem",
                        tmp_ / "wrapped.bin", tmp_ / "again.json"},
                       WithEnv({{"CHUNKVAULT_MASTER_KEY_PASSWORD", "not it"}}));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("master private key"), std::string::npos) << wrong.err;
}

TEST_F(CryptCli, ChangePassphraseKeepsTheKey) {
  const std::string key = MakeKey("k.json");
  const std::string fingerprint = Fingerprint(key);
  const std::string snap = Backup({"--keyfile", key})["snapshot"];
  const int64_t created =
      *ParseAnyRfc3339(Json(cv({"key", "show", "--json", key}))["created"].get<std::string>());
  RunResult changed = cv({"key", "change-passphrase", key, "--kdf", "pbkdf2", "--hint", "new"},
                         WithEnv({{"CHUNKVAULT_NEW_ENCRYPTION_PASSWORD", "the new one"}}));
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  auto info = Json(cv({"key", "show", "--json", key}));
  EXPECT_EQ(info["fingerprint"], fingerprint);
  EXPECT_EQ(info["kdf"], "pbkdf2");
  EXPECT_EQ(info["hint"], "new");
  EXPECT_EQ(*ParseAnyRfc3339(info["created"].get<std::string>()), created);
  RunResult old_pass = cv({"restore", "--keyfile", key, snap, tmp_ / "a"});
  EXPECT_EQ(old_pass.exit_code, 1);
  EXPECT_NE(old_pass.err.find("hint: new"), std::string::npos) << old_pass.err;
  RunResult new_pass = cv({"restore", "--keyfile", key, snap, tmp_ / "b"},
                          WithEnv({{"CHUNKVAULT_ENCRYPTION_PASSWORD", "the new one"}}));
  EXPECT_EQ(new_pass.exit_code, 0) << new_pass.err;
}

TEST_F(CryptCli, PaperKeyHoldsTheKeyFileAndItsQrCode) {
  const std::string key = MakeKey("k.json");
  RunResult r = cv({"key", "paperkey", key, "--subject", "box backups"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("Subject: box backups\n")) << r.out;
  const size_t begin = r.out.find("-----BEGIN PROXMOX BACKUP KEY-----\n");
  const size_t end = r.out.find("-----END PROXMOX BACKUP KEY-----\n");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string json = r.out.substr(begin + 35, end - begin - 35);
  testing::WriteFile(tmp_ / "typed-in.json", json);
  EXPECT_EQ(Fingerprint(tmp_ / "typed-in.json"), Fingerprint(key));
  // The QR code: lines of equal width drawn with half blocks, a QR code's
  // width (17 + 4 * version modules) and half as many lines, rounded up.
  std::vector<std::string> qr;
  std::istringstream rest(r.out.substr(end + 33));
  for (std::string line; std::getline(rest, line);)
    if (!line.empty()) qr.push_back(line);
  ASSERT_FALSE(qr.empty());
  auto columns = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  const size_t width = columns(qr[0]);
  EXPECT_EQ((width - 17) % 4, 0u) << width;
  EXPECT_EQ(qr.size(), (width + 1) / 2);
  for (const std::string& line : qr) EXPECT_EQ(columns(line), width);
  EXPECT_NE(r.out.find("\u2588"), std::string::npos);
}

}  // namespace
}  // namespace chunkvault

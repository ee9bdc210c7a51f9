#include "chunkvault/manifest.h"

#include <algorithm>
#include <climits>

#include "chunkvault/blob.h"
#include "util/safe_name.h"

namespace chunkvault {

using nlohmann::json;

const ManifestFile* Manifest::Find(std::string_view filename) const {
  for (const ManifestFile& f : files)
    if (f.filename == filename) return &f;
  return nullptr;
}

std::string Manifest::ToJson() const {
  json j = extra;
  j["backup-type"] = backup_type;
  j["backup-id"] = backup_id;
  j["backup-time"] = backup_time;
  json list = json::array();
  for (const ManifestFile& f : files) {
    list.push_back({{"filename", f.filename},
                    {"crypt-mode", CryptModeName(f.crypt_mode)},
                    {"size", f.size},
                    {"csum", ToHex(f.csum)}});
  }
  j["files"] = std::move(list);
  j["unprotected"] = unprotected;
  j["signature"] = signature ? json(*signature) : json(nullptr);
  return j.dump(2);  // nlohmann sorts keys, like serde_json's Value
}

namespace {

// The types of the "unprotected" fields this program reads.
Status CheckUnprotected(const json& u, const std::vector<ManifestFile>& files) {
  auto bad = [](const std::string& what) {
    return Fail(ErrorCode::kCorrupt, "manifest: unprotected" + what);
  };
  if (!u.is_object()) return bad(" is not an object");
  if (auto n = u.find("notes"); n != u.end() && !n->is_string())
    return bad(".notes is not a string");
  if (auto v = u.find("verify_state"); v != u.end()) {
    if (!v->is_object()) return bad(".verify_state is not an object");
    if (auto st = v->find("state"); st != v->end() && !st->is_string())
      return bad(".verify_state.state is not a string");
  }
  auto ext = u.find(kManifestExtKey);
  if (ext == u.end()) return {};
  const std::string key = std::string(".") + kManifestExtKey;
  if (!ext->is_object()) return bad(key + " is not an object");
  auto listed = [&](const std::string& name) {
    return std::any_of(files.begin(), files.end(),
                       [&](const ManifestFile& f) { return f.filename == name; });
  };
  if (auto sizes = ext->find("logical-size"); sizes != ext->end()) {
    if (!sizes->is_object()) return bad(key + ".logical-size is not an object");
    for (auto it = sizes->begin(); it != sizes->end(); ++it) {
      const std::string field = key + ".logical-size." + it.key();
      if (!it->is_number_unsigned()) return bad(field + " is not a size");
      if (!listed(it.key())) return bad(field + " names no file of the manifest");
    }
  }
  auto digests = ext->find("file-sha256");
  if (digests == ext->end()) return {};
  if (!digests->is_object()) return bad(key + ".file-sha256 is not an object");
  for (auto it = digests->begin(); it != digests->end(); ++it) {
    const std::string field = key + ".file-sha256." + it.key();
    if (!it->is_string()) return bad(field + " is not a string");
    if (auto d = DigestFromHex(it->get<std::string>()); !d)
      return bad(field + ": " + d.error().message());
    if (!listed(it.key())) return bad(field + " names no file of the manifest");
  }
  return {};
}

}  // namespace

Status CheckSnapshotFileName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kCorrupt, "file name '" + std::string(name) + "' " + why);
  };
  if (!IsSafeName(name, 255))
    return bad(
        "is no plain name (letters, digits, '_', '.' and '-', not starting with '.' or "
        "'-', at most 255 bytes)");
  if (!name.ends_with(".didx") && !name.ends_with(".fidx") && !name.ends_with(".blob"))
    return bad("has no .didx, .fidx or .blob suffix");
  if (name == kManifestBlobName) return bad("is the manifest's own");
  return {};
}

namespace {

// What chunkvault recorded about `filename` under `key` in "unprotected"
// (unprotected.chunkvault.<key>.<filename>), if anything.
const json* Recorded(const json& unprotected, const char* key, std::string_view filename) {
  auto ext = unprotected.find(kManifestExtKey);
  if (ext == unprotected.end() || !ext->is_object()) return nullptr;
  auto table = ext->find(key);
  if (table == ext->end() || !table->is_object()) return nullptr;
  auto it = table->find(std::string(filename));
  return it == table->end() ? nullptr : &*it;
}

}  // namespace

std::optional<Digest> Manifest::RecordedFileDigest(std::string_view filename) const {
  const json* hex = Recorded(unprotected, "file-sha256", filename);
  if (hex == nullptr || !hex->is_string()) return std::nullopt;
  auto d = DigestFromHex(hex->get<std::string>());
  return d ? std::optional<Digest>(*d) : std::nullopt;
}

uint64_t Manifest::LogicalSize(const ManifestFile& file) const {
  const json* size = Recorded(unprotected, "logical-size", file.filename);
  if (size == nullptr || !size->is_number_unsigned()) return file.size;
  return std::min(file.size, size->get<uint64_t>());
}

void Manifest::RecordLogicalSize(const std::string& filename, uint64_t size) {
  unprotected[kManifestExtKey]["logical-size"][filename] = size;
}

Result<Manifest> Manifest::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kCorrupt, "manifest is not a JSON object");
  auto bad = [](const std::string& what) { return Fail(ErrorCode::kCorrupt, "manifest: " + what); };
  Manifest m;
  // Every value is type-checked before it is taken: json's get<> throws
  // on a wrong type, which would end the process.
  if (!j.contains("backup-type") || !j["backup-type"].is_string()) return bad("no backup-type");
  if (!j.contains("backup-id") || !j["backup-id"].is_string()) return bad("no backup-id");
  if (!j.contains("backup-time") || !j["backup-time"].is_number_integer())
    return bad("no backup-time");
  if (!j.contains("files") || !j["files"].is_array()) return bad("no files list");
  m.backup_type = j["backup-type"].get<std::string>();
  m.backup_id = j["backup-id"].get<std::string>();
  if (j["backup-time"].is_number_unsigned() &&
      j["backup-time"].get<uint64_t>() > uint64_t(INT64_MAX))
    return bad("backup-time is out of range");
  m.backup_time = j["backup-time"].get<int64_t>();
  for (const json& f : j["files"]) {
    ManifestFile file;
    if (!f.is_object() || !f.contains("filename") || !f["filename"].is_string())
      return bad("a files entry has no filename");
    file.filename = f["filename"].get<std::string>();
    CV_RETURN_IF_ERROR(WithContext(CheckSnapshotFileName(file.filename), "manifest"));
    if (m.Find(file.filename) != nullptr) return bad("file " + file.filename + " is listed twice");
    if (f.contains("crypt-mode")) {
      if (!f["crypt-mode"].is_string())
        return bad("file " + file.filename + ": crypt-mode is not a string");
      auto mode = ParseCryptMode(f["crypt-mode"].get<std::string>());
      if (!mode) return bad("file " + file.filename + ": " + mode.error().message());
      file.crypt_mode = *mode;
    }
    if (!f.contains("size") || !f["size"].is_number_unsigned())
      return bad("file " + file.filename + " has no size");
    file.size = f["size"].get<uint64_t>();
    if (!f.contains("csum") || !f["csum"].is_string())
      return bad("file " + file.filename + " has no csum");
    auto csum = DigestFromHex(f["csum"].get<std::string>());
    if (!csum) return bad("file " + file.filename + ": " + csum.error().message());
    file.csum = *csum;
    m.files.push_back(std::move(file));
  }
  if (j.contains("unprotected") && !j["unprotected"].is_null()) {
    CV_RETURN_IF_ERROR(CheckUnprotected(j["unprotected"], m.files));
    m.unprotected = j["unprotected"];
  }
  if (j.contains("signature") && !j["signature"].is_null()) {
    if (!j["signature"].is_string()) return bad("signature is not a string");
    m.signature = j["signature"].get<std::string>();
  }
  CV_RETURN_IF_ERROR(m.KeyFingerprintOf());
  for (const char* known : {"backup-type", "backup-id", "backup-time", "files", "unprotected",
                            "signature"})
    j.erase(known);
  m.extra = std::move(j);
  return m;
}

Result<std::optional<KeyFingerprint>> Manifest::KeyFingerprintOf() const {
  auto it = unprotected.find("key-fingerprint");
  if (it == unprotected.end() || it->is_null()) return std::optional<KeyFingerprint>();
  if (!it->is_string())
    return Fail(ErrorCode::kCorrupt, "manifest: unprotected.key-fingerprint is not a string");
  auto fp = KeyFingerprint::Parse(it->get<std::string>());
  if (!fp)
    return Fail(ErrorCode::kCorrupt,
                "manifest: unprotected.key-fingerprint: " + fp.error().message());
  return std::optional<KeyFingerprint>(*fp);
}

bool Manifest::NeedsKey() const {
  if (signature) return true;
  return std::any_of(files.begin(), files.end(),
                     [](const ManifestFile& f) { return f.crypt_mode != CryptMode::kNone; });
}

Digest Manifest::ComputeSignature(const CryptKey& key) const {
  // What PBS 4 signs: its manifest struct re-serialised, without
  // "unprotected" and "signature". nlohmann's compact dump is serde_json's
  // canonical form here: keys sorted bytewise, no whitespace, the same
  // escapes (\" \\ \b \f \n \r \t, \u00xx), UTF-8 raw.
  json j = json::object();
  j["backup-type"] = backup_type;
  j["backup-id"] = backup_id;
  j["backup-time"] = backup_time;
  json list = json::array();
  for (const ManifestFile& f : files)
    list.push_back({{"filename", f.filename},
                    {"crypt-mode", CryptModeName(f.crypt_mode)},
                    {"size", f.size},
                    {"csum", ToHex(f.csum)}});
  j["files"] = std::move(list);
  const std::string canonical = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return key.AuthTag(AsBytes(canonical));
}

void Manifest::Sign(const CryptKey& key) {
  signature = ToHex(ComputeSignature(key));
  unprotected["key-fingerprint"] = key.fingerprint().Full();
}

Status Manifest::CheckKey(const CryptKey* key) const {
  CV_ASSIGN_OR_RETURN(auto made_with, KeyFingerprintOf());
  const bool encrypted = std::any_of(files.begin(), files.end(), [](const ManifestFile& f) {
    return f.crypt_mode == CryptMode::kEncrypt;
  });
  if (key == nullptr) {
    if (!NeedsKey() && !made_with) return {};
    const std::string what = encrypted ? "encrypted" : "signed";
    return Fail(ErrorCode::kEncrypted,
                what + (made_with ? " with key " + made_with->Short() : std::string()) +
                    ", and no key was given (--keyfile)");
  }
  if (made_with && *made_with != key->fingerprint())
    return Fail(ErrorCode::kEncrypted, "made with key " + made_with->Short() +
                                           ", but the key given is " + key->fingerprint().Short());
  if (!signature) {
    if (!NeedsKey()) return {};
    return Fail(ErrorCode::kCorrupt,
                "the manifest of an encrypted or signed snapshot carries no signature");
  }
  if (*signature != ToHex(ComputeSignature(*key)))
    return Fail(ErrorCode::kCorrupt,
                "the manifest's signature does not hold: the manifest was changed after the "
                "backup");
  return {};
}

Bytes Manifest::EncodeBlob() const { return chunkvault::EncodeBlob(AsBytes(ToJson()), true); }

Result<Manifest> Manifest::DecodeBlob(ByteView raw) {
  CV_ASSIGN_OR_RETURN(Bytes data, chunkvault::DecodeBlob(raw));
  return FromJson(AsString(data));
}

}  // namespace chunkvault

#include "chunkvault/manifest.h"

#include "chunkvault/blob.h"

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
                    {"crypt-mode", f.crypt_mode},
                    {"size", f.size},
                    {"csum", ToHex(f.csum)}});
  }
  j["files"] = std::move(list);
  j["unprotected"] = unprotected;
  j["signature"] = signature ? json(*signature) : json(nullptr);
  return j.dump(2);  // nlohmann sorts keys, like serde_json's Value
}

Result<Manifest> Manifest::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kCorrupt, "manifest is not a JSON object");
  auto bad = [](const std::string& what) { return Fail(ErrorCode::kCorrupt, "manifest: " + what); };
  Manifest m;
  try {
    if (!j.contains("backup-type") || !j["backup-type"].is_string()) return bad("no backup-type");
    if (!j.contains("backup-id") || !j["backup-id"].is_string()) return bad("no backup-id");
    if (!j.contains("backup-time") || !j["backup-time"].is_number_integer())
      return bad("no backup-time");
    if (!j.contains("files") || !j["files"].is_array()) return bad("no files list");
    m.backup_type = j["backup-type"].get<std::string>();
    m.backup_id = j["backup-id"].get<std::string>();
    m.backup_time = j["backup-time"].get<int64_t>();
    for (const json& f : j["files"]) {
      ManifestFile file;
      if (!f.is_object() || !f.contains("filename") || !f["filename"].is_string())
        return bad("a files entry has no filename");
      file.filename = f["filename"].get<std::string>();
      if (f.contains("crypt-mode")) file.crypt_mode = f["crypt-mode"].get<std::string>();
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
    if (j.contains("unprotected") && j["unprotected"].is_object()) m.unprotected = j["unprotected"];
    if (j.contains("signature") && j["signature"].is_string())
      m.signature = j["signature"].get<std::string>();
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  for (const char* known : {"backup-type", "backup-id", "backup-time", "files", "unprotected",
                            "signature"})
    j.erase(known);
  m.extra = std::move(j);
  return m;
}

Bytes Manifest::EncodeBlob() const { return chunkvault::EncodeBlob(AsBytes(ToJson()), true); }

Result<Manifest> Manifest::DecodeBlob(ByteView raw) {
  CV_ASSIGN_OR_RETURN(Bytes data, chunkvault::DecodeBlob(raw));
  return FromJson(AsString(data));
}

}  // namespace chunkvault

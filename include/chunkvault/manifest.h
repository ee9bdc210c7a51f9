// The snapshot manifest, index.json.blob (SPEC section 4).
//
// A zstd DataBlob holding pretty-printed JSON with sorted keys, as PBS's
// serde_json writes it. Keys this version does not know are kept and written
// back unchanged, so rewriting "unprotected" (verify state, notes) never
// loses what a newer PBS put there.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr char kManifestBlobName[] = "index.json.blob";

struct ManifestFile {
  std::string filename;
  std::string crypt_mode = "none";  // none | encrypt | sign-only
  uint64_t size = 0;  // index: data bytes; blob: encoded length
  Digest csum{};      // index: index_csum; blob: sha256 of the encoded bytes
};

struct Manifest {
  std::string backup_type;
  std::string backup_id;
  int64_t backup_time = 0;
  std::vector<ManifestFile> files;
  nlohmann::json unprotected = nlohmann::json::object();
  std::optional<std::string> signature;
  nlohmann::json extra = nlohmann::json::object();  // unknown top-level keys

  const ManifestFile* Find(std::string_view filename) const;

  std::string ToJson() const;
  static Result<Manifest> FromJson(std::string_view json);

  Bytes EncodeBlob() const;
  static Result<Manifest> DecodeBlob(ByteView raw);
};

}  // namespace chunkvault

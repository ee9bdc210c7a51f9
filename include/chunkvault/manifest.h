// The snapshot manifest, index.json.blob (docs/format.md, "The manifest").
//
// A zstd DataBlob holding pretty-printed JSON with sorted keys, as PBS's
// serde_json writes it. Keys this version does not know are kept and written
// back unchanged, so rewriting "unprotected" (verify state, notes) never
// loses what a newer PBS put there.
//
// A manifest is untrusted input: FromJson checks the type of every field
// this program reads (the files list, and in "unprotected" the notes, the
// verify state and chunkvault's file digests) and that every file name is
// a plain name of a snapshot file (CheckSnapshotFileName); anything else is
// a kCorrupt error naming the field, never an exception.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr char kManifestBlobName[] = "index.json.blob";
// Where chunkvault keeps its own fields in "unprotected" (PBS keeps the
// object as it is): {"file-sha256": {"<file name>": "<64 hex>", ...}}, the
// SHA-256 of each index file, so that a flipped bit anywhere in one is
// noticed (PBS's index checksum skips the header's uuid and ctime); and
// {"logical-size": {"<file name>": N}}, the bytes an index's contents
// hold for the reader where they are fewer than its size (a payload
// index reusing chunks whole, with bytes no file references).
inline constexpr char kManifestExtKey[] = "chunkvault";

// A file a snapshot may list: a plain name in PBS's archive name form
// ([A-Za-z0-9_][A-Za-z0-9._-]*, at most 255 bytes) ending in .didx, .fidx
// or .blob, other than the manifest's own name. So no listed name can
// reach outside the snapshot directory.
Status CheckSnapshotFileName(std::string_view name);

struct ManifestFile {
  std::string filename;
  CryptMode crypt_mode = CryptMode::kNone;
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
  // The SHA-256 of a file's bytes that chunkvault recorded at backup, if any.
  std::optional<Digest> RecordedFileDigest(std::string_view filename) const;
  // A file's logical size: the one recorded at backup, else its size.
  uint64_t LogicalSize(const ManifestFile& file) const;
  void RecordLogicalSize(const std::string& filename, uint64_t size);

  // The key the manifest was signed with, from "unprotected":
  // "key-fingerprint" (kCorrupt if it is not a fingerprint).
  Result<std::optional<KeyFingerprint>> KeyFingerprintOf() const;
  // Whether a key is needed to read the snapshot: a file is encrypted, or
  // the manifest is signed.
  bool NeedsKey() const;
  // PBS's signature: HMAC-SHA256 with the key's id key over the canonical
  // JSON (sorted keys, no whitespace) of type, id, time and files, which
  // leaves "unprotected" free for the server (verify state, notes).
  Digest ComputeSignature(const CryptKey& key) const;
  // Sets the signature and "unprotected"."key-fingerprint".
  void Sign(const CryptKey& key);
  // Whether the snapshot can be read with `key` (null: none given), with
  // messages naming the fingerprints: a key is needed and missing
  // (kEncrypted), another key made it (kEncrypted), the manifest of an
  // encrypted or signed snapshot is unsigned or its signature does not
  // hold (kCorrupt: it was changed).
  Status CheckKey(const CryptKey* key) const;

  std::string ToJson() const;
  static Result<Manifest> FromJson(std::string_view json);

  Bytes EncodeBlob() const;
  static Result<Manifest> DecodeBlob(ByteView raw);
};

}  // namespace chunkvault

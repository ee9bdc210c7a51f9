// The parts of an S3-backed datastore (docs/format.md, "The bucket"):
//
//   <name>/.chunks/<4hex>/<64hex>   chunks           (ChunkAccess, chunk_access.h)
//   <name>/.cnt/<relative path>     all other files  (the MetadataMirror here)
//   <name>/.in-use                  {"hostname": ...}, who owns the prefix
//
// The local directory keeps every metadata file and the chunk cache (a
// chunk's file, or an empty marker); the bucket is the authority, from
// which s3-refresh rebuilds the metadata.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "chunkvault/backend.h"
#include "chunkvault/s3_settings.h"
#include "store/snapshot_store.h"

namespace chunkvault {

// Every datastore file but chunks is kept in the bucket under this, below
// the datastore's prefix.
inline constexpr char kContentPrefix[] = ".cnt/";

// Mirrors metadata to "<prefix><relative path>" (prefix "<name>/.cnt/").
std::unique_ptr<MetadataMirror> NewBackendMirror(Backend* backend, std::string prefix);

// Claims "<name>/" in the bucket by writing "<name>/.in-use". Refused if
// another datastore claims it (or objects are there without a claim)
// unless `reuse`; refused if another host claims it unless also
// `overwrite_in_use`.
Status ClaimPrefix(Backend& backend, const std::string& name, bool reuse, bool overwrite_in_use);

// Accepts only the paths PBS keeps under .cnt/ (namespace markers, group
// owner and notes, snapshot files), so a bucket's contents cannot write
// outside a datastore or plant files where none belong.
Status CheckContentPath(const std::string& rel);

nlohmann::json S3SettingsToJson(const S3Settings& s3);
Result<S3Settings> S3SettingsFromJson(const nlohmann::json& j);

// This machine's name, for .in-use.
std::string Hostname();

}  // namespace chunkvault

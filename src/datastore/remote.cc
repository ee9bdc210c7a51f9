#include "datastore/remote.h"

#include <unistd.h>

#include "chunkvault/time.h"
#include "datastore/archive_names.h"

namespace chunkvault {

namespace {

constexpr char kInUse[] = ".in-use";

class BackendMirror final : public MetadataMirror {
 public:
  BackendMirror(Backend* backend, std::string prefix)
      : backend_(backend), prefix_(std::move(prefix)) {}

  Status Put(const std::string& rel, ByteView data) override {
    CV_RETURN_IF_ERROR(backend_->Put(prefix_ + rel, data, PutMode::kOverwrite));
    return {};
  }
  Status Delete(const std::string& rel) override { return backend_->Delete(prefix_ + rel); }
  Status DeleteTree(const std::string& rel_dir) override {
    CV_RETURN_IF_ERROR(DeletePrefix(*backend_, prefix_ + rel_dir + "/"));
    return {};
  }

 private:
  Backend* const backend_;
  const std::string prefix_;
};

}  // namespace

std::unique_ptr<MetadataMirror> NewBackendMirror(Backend* backend, std::string prefix) {
  return std::make_unique<BackendMirror>(backend, std::move(prefix));
}

std::string Hostname() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

nlohmann::json S3SettingsToJson(const S3Settings& s3) {
  return {{"endpoint", s3.endpoint},
          {"bucket", s3.bucket},
          {"region", s3.region},
          {"path-style", s3.path_style},
          {"skip-if-none-match", s3.skip_if_none_match},
          {"fingerprint", s3.fingerprint},
          {"put-rate-limit", s3.put_rate_limit}};
}

Result<S3Settings> S3SettingsFromJson(const nlohmann::json& j) {
  S3Settings s;
  try {
    s.endpoint = j.at("endpoint").get<std::string>();
    s.bucket = j.at("bucket").get<std::string>();
    s.region = j.value("region", "us-east-1");
    s.path_style = j.value("path-style", false);
    s.skip_if_none_match = j.value("skip-if-none-match", false);
    s.fingerprint = j.value("fingerprint", "");
    s.put_rate_limit = j.value("put-rate-limit", 0.0);
  } catch (const nlohmann::json::exception& e) {
    return Fail(ErrorCode::kCorrupt, std::string("the datastore's s3 settings: ") + e.what());
  }
  return s;
}

Status ClaimPrefix(Backend& backend, const std::string& name, bool reuse, bool overwrite_in_use) {
  const std::string prefix = name + "/";
  const std::string where = "prefix '" + prefix + "' of " + backend.Describe();
  const std::string me = Hostname();
  auto marker = backend.Get(prefix + kInUse);
  if (marker) {
    auto j = nlohmann::json::parse(AsString(*marker), nullptr, false);
    std::string owner = j.is_object() ? j.value("hostname", "?") : "?";
    if (!reuse)
      return Fail(ErrorCode::kAlreadyExists,
                  where + " holds the datastore of host '" + owner +
                      "'; pass --reuse-datastore to adopt its contents");
    if (owner != me && !overwrite_in_use)
      return Fail(ErrorCode::kAlreadyExists,
                  where + " is in use by host '" + owner + "', not this host ('" + me +
                      "'); pass --overwrite-in-use to take it over");
  } else if (marker.error().code() == ErrorCode::kNotFound) {
    bool any = false;
    auto listed = backend.List(prefix, [&](const ObjectInfo&) -> Status {
      any = true;
      return Fail(ErrorCode::kAlreadyExists, "stop");  // one is enough
    });
    if (!listed && !any) return listed;
    if (any && !reuse)
      return Fail(ErrorCode::kAlreadyExists,
                  where + " already holds objects (without an .in-use marker); pass "
                          "--reuse-datastore to adopt them");
  } else {
    return std::unexpected(std::move(marker).error());
  }
  nlohmann::json claim = {{"hostname", me}};
  CV_RETURN_IF_ERROR(backend.Put(prefix + kInUse, AsBytes(claim.dump()), PutMode::kOverwrite));
  return {};
}

Status CheckContentPath(const std::string& rel) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "'" + rel + "' is not a datastore path: " + why);
  };
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t slash = rel.find('/', start);
    parts.push_back(rel.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  size_t i = 0, depth = 0;
  // Namespaces: ns/<name>, repeated; a namespace may end in its marker.
  while (i + 1 < parts.size() && parts[i] == "ns") {
    if (!CheckBackupId(parts[i + 1])) return bad("invalid namespace '" + parts[i + 1] + "'");
    if (++depth > kMaxNamespaceDepth) return bad("namespaces nested too deep");
    i += 2;
    if (i + 1 == parts.size() && parts[i] == ".namespace") return {};
  }
  if (parts.size() - i < 3) return bad("no backup group");
  if (!ParseBackupType(parts[i])) return bad("unknown backup type '" + parts[i] + "'");
  if (!CheckBackupId(parts[i + 1])) return bad("invalid backup id '" + parts[i + 1] + "'");
  if (parts.size() - i == 3) {
    if (parts[i + 2] == "owner" || parts[i + 2] == "notes") return {};
    return bad("unexpected file in a group");
  }
  if (parts.size() - i != 4) return bad("too deep");
  if (!ParseRfc3339(parts[i + 2])) return bad("'" + parts[i + 2] + "' is not a snapshot time");
  const std::string& file = parts[i + 3];
  if (file == ".protected" || file == kManifestBlobName) return {};
  if (!CheckBackupId(file) || !ArchiveKindOf(file)) return bad("'" + file + "' is not an archive name");
  return {};
}

}  // namespace chunkvault

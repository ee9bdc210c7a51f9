// chunkvault inspect FILE|DIGEST [--verbose] [--json]
// Shows what a blob, chunk or index file holds and whether its checks pass.
// Exit 1 if any check fails, so scripts can use it too.
#include <cstdio>
#include <cstring>

#include "chunkvault/blob.h"
#include "chunkvault/chunk_path.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/size.h"
#include "chunkvault/time.h"
#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct InspectArgs {
  std::string target;
  std::string store;
  bool verbose = false;
  bool json = false;
};

std::string UuidString(const Uuid& u) {
  std::string h = ToHex(ByteView(u));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// The digest a chunk file is named after (<64hex> or <64hex>.<n>.bad).
std::optional<Digest> DigestFromFileName(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  if (base.size() < 64) return std::nullopt;
  if (base.size() != 64 && !(base.size() == 70 && base.ends_with(".bad"))) return std::nullopt;
  auto d = DigestFromHex(base.substr(0, 64));
  return d ? std::optional<Digest>(*d) : std::nullopt;
}

void DescribeBlob(const Bytes& raw, const std::string& path, nlohmann::ordered_json& out, bool& ok) {
  auto info = chunkvault::InspectBlob(raw);
  out["type"] = "blob";
  out["encoding"] = BlobKindName(info->kind);
  out["magic"] = ToHex(ByteView(raw).subspan(0, 8));
  out["size"] = raw.size();
  auto crc = CheckBlobCrc(raw);
  out["crc"] = crc ? "valid" : crc.error().message();
  ok = ok && crc.has_value();
  auto data = DecodeBlob(raw, kMaxBlobSize);
  if (!data) {
    out["decoded"] = data.error().message();
    if (data.error().code() != ErrorCode::kEncrypted) ok = false;
    return;
  }
  out["decoded-size"] = data->size();
  if (auto name_digest = DigestFromFileName(path)) {
    Digest actual = Sha256Of(*data);
    out["digest"] = actual == *name_digest ? "matches the file name"
                                           : "MISMATCH: data hashes to " + ToHex(actual);
    ok = ok && actual == *name_digest;
  }
  // A manifest or other JSON is shown as it is.
  if (!data->empty() && (*data)[0] == '{') {
    auto j = nlohmann::json::parse(AsString(*data), nullptr, false);
    if (!j.is_discarded()) out["json"] = j;
  }
}

template <class Index>
void InspectIndexCommon(const Index& idx, nlohmann::ordered_json& out, bool& ok) {
  out["uuid"] = UuidString(idx.uuid);
  out["ctime"] = FormatRfc3339(idx.ctime);
  Digest computed = idx.ComputeChecksum();
  out["index-csum"] = ToHex(idx.stored_csum);
  out["index-csum-check"] = computed == idx.stored_csum ? "valid" : "MISMATCH: entries hash to " + ToHex(computed);
  ok = ok && computed == idx.stored_csum;
}

void InspectDynamic(const Bytes& raw, nlohmann::ordered_json& out, bool verbose, bool& ok) {
  out["type"] = "dynamic index";
  out["magic"] = ToHex(ByteView(kDynamicIndexMagic));
  auto idx = DynamicIndex::Parse(raw, /*verify_checksum=*/false);
  if (!idx) {
    out["error"] = idx.error().message();
    ok = false;
    return;
  }
  InspectIndexCommon(*idx, out, ok);
  out["entries"] = idx->entries.size();
  out["size"] = idx->size();
  if (!idx->entries.empty()) {
    out["first-end"] = idx->entries.front().end;
    out["last-end"] = idx->entries.back().end;
    out["average-chunk"] = idx->size() / idx->entries.size();
  }
  if (verbose) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const DynamicEntry& e : idx->entries) list.push_back({{"end", e.end}, {"digest", ToHex(e.digest)}});
    out["chunks"] = list;
  }
}

void InspectFixed(const Bytes& raw, nlohmann::ordered_json& out, bool verbose, bool& ok) {
  out["type"] = "fixed index";
  out["magic"] = ToHex(ByteView(kFixedIndexMagic));
  auto idx = FixedIndex::Parse(raw, /*verify_checksum=*/false);
  if (!idx) {
    out["error"] = idx.error().message();
    ok = false;
    return;
  }
  InspectIndexCommon(*idx, out, ok);
  out["size"] = idx->size;
  out["chunk-size"] = idx->chunk_size;
  out["entries"] = idx->digests.size();
  if (verbose) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Digest& d : idx->digests) list.push_back(ToHex(d));
    out["chunks"] = list;
  }
}

void PrintText(const nlohmann::ordered_json& out, const std::string& indent = "") {
  for (auto it = out.begin(); it != out.end(); ++it) {
    if (it.key() == "chunks") {
      std::printf("%schunks:\n", indent.c_str());
      for (const auto& c : *it) std::printf("%s  %s\n", indent.c_str(), c.is_string() ? c.get<std::string>().c_str() : c.dump().c_str());
    } else if (it.key() == "json") {
      std::printf("%scontent:\n%s\n", indent.c_str(), it->dump(2).c_str());
    } else {
      std::printf("%s%s: %s\n", indent.c_str(), it.key().c_str(),
                  it->is_string() ? it->get<std::string>().c_str() : it->dump().c_str());
    }
  }
}

int RunInspect(const InspectArgs& args) {
  std::string path = args.target;
  if (auto digest = DigestFromHex(args.target)) {
    if (args.store.empty())
      return ReportError(Error(ErrorCode::kInvalidArgument,
                               "inspecting a chunk by digest needs --store or CHUNKVAULT_STORE"));
    path = JoinPath(args.store, ChunkRelPath(*digest));
  }
  auto raw = Env::Default()->ReadFile(path, kMaxIndexFileSize);
  if (!raw) return ReportError(raw.error());
  nlohmann::ordered_json out;
  out["file"] = path;
  bool ok = true;
  if (raw->size() >= 8 && std::memcmp(raw->data(), kDynamicIndexMagic.data(), 8) == 0) {
    InspectDynamic(*raw, out, args.verbose, ok);
  } else if (raw->size() >= 8 && std::memcmp(raw->data(), kFixedIndexMagic.data(), 8) == 0) {
    InspectFixed(*raw, out, args.verbose, ok);
  } else if (chunkvault::InspectBlob(*raw)) {
    DescribeBlob(*raw, path, out, ok);
  } else {
    return ReportError(Error(ErrorCode::kCorrupt,
                             path + " is not a DataBlob or index file (magic " +
                                 ToHex(ByteView(*raw).subspan(0, std::min<size_t>(8, raw->size()))) +
                                 ")"));
  }
  out["ok"] = ok;
  if (args.json) std::printf("%s\n", out.dump(2).c_str());
  else PrintText(out);
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterInspect(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show what a blob, chunk or index file holds and check it (also PBS's files)");
  cmd->add_option("target", args->target, "A file, or a chunk digest (with --store)")->required();
  cmd->add_option("--store", args->store, "Datastore, to find a chunk by digest")
      ->envname("CHUNKVAULT_STORE");
  cmd->add_flag("--verbose,-v", args->verbose, "List every chunk of an index");
  cmd->add_flag("--json", args->json, "Print JSON for scripts");
  cmd->callback([args, &exit_code] { exit_code = RunInspect(*args); });
}

}  // namespace chunkvault::cli

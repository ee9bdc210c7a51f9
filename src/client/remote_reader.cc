#include "client/remote_reader.h"

#include "chunkvault/bytes.h"

namespace chunkvault::client {
namespace {

// A download's bytes; a non-200 answer as the error it carries.
Result<Bytes> BodyOf(Result<Response> answer) {
  if (!answer) return std::unexpected(std::move(answer).error());
  if (answer->status != 200) {
    CV_RETURN_IF_ERROR(DataOf(*answer));
    return Fail(ErrorCode::kNetwork,
                "server: HTTP " + std::to_string(answer->status) + " for a download");
  }
  return std::move(answer->body);
}

class RemoteSnapshotReader final : public SnapshotReader {
 public:
  RemoteSnapshotReader(std::unique_ptr<H2Session> h2, SnapshotRef snap)
      : h2_(std::move(h2)), snap_(std::move(snap)) {}

  const SnapshotRef& snapshot() const override { return snap_; }
  // The reader protocol does not tell it.
  const std::string& owner() const override { return owner_; }

  Result<Bytes> ReadFile(const std::string& file_name) override {
    return WithContext(
        BodyOf(h2_->Start("GET", "/download", {{"file-name", file_name}}, {}, "").get()),
        "download " + file_name);
  }

  Result<Bytes> ReadChunk(const Digest& digest) override {
    return WithContext(
        BodyOf(h2_->Start("GET", "/chunk", {{"digest", ToHex(digest)}}, {}, "").get()),
        "download chunk " + ToHex(digest));
  }

 private:
  std::unique_ptr<H2Session> h2_;
  const SnapshotRef snap_;
  const std::string owner_;
};

}  // namespace

Result<std::unique_ptr<SnapshotReader>> StartRemoteReader(std::unique_ptr<Connection> connection,
                                                          const Repository& repo,
                                                          const SnapshotRef& snap) {
  std::vector<std::pair<std::string, std::string>> query = {
      {"backup-type", BackupTypeName(snap.group.type)},
      {"backup-id", snap.group.id},
      {"backup-time", std::to_string(snap.time)},
      {"store", repo.store},
      {"debug", "false"}};
  if (!snap.group.ns.is_root()) query.emplace_back("ns", snap.group.ns.ToString());
  CV_ASSIGN_OR_RETURN(auto h2, connection->Upgrade("/api2/json/reader", query,
                                                   "proxmox-backup-reader-protocol-v1"));
  return std::unique_ptr<SnapshotReader>(
      std::make_unique<RemoteSnapshotReader>(std::move(h2), snap));
}

}  // namespace chunkvault::client

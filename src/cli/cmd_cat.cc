// chunkvault cat SNAPSHOT ARCHIVE [--format raw|tar]: the archive's stream
// on stdout, or a pxar archive as a tar stream.
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "chunkvault/manifest.h"
#include "chunkvault/restore.h"
#include "cli/common.h"
#include "cli/crypt_options.h"

namespace chunkvault::cli {
namespace {

struct CatArgs {
  StoreOptions store;
  std::string snapshot, archive;
  CryptArgs crypt;
  std::string format = "raw";
};

Status WriteStdout(ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "write to standard output");
    }
    done += size_t(n);
  }
  return {};
}

int RunCat(const CatArgs& args) {
  auto snap = ParseSnapshot(args.store, args.snapshot);
  if (!snap) return ReportError(snap.error());
  auto source = OpenSnapshotSource(args.store, *snap);
  if (!source) return ReportError(source.error());
  Datastore* ds = source->store.get();
  // The manifest itself, decoded: for humans looking around.
  if (args.archive == kManifestBlobName || args.archive == "index.json") {
    auto m = ds ? ds->ReadManifest(*snap) : ReadManifest(*source->remote);
    if (!m) return ReportError(m.error());
    std::printf("%s\n", m->ToJson().c_str());
    return kExitOk;
  }
  auto key = KeyForSnapshot(args.crypt, ds, source->remote.get(), *snap);
  if (!key) return ReportError(key.error());
  const bool is_tar = args.archive.ends_with(".tar") || args.archive.ends_with(".tar.didx");
  if (args.format == "tar" && !is_tar) {
    // A pxar archive converted: what a user pipes into tar.
    if (StdoutIsTerminal())
      return ReportError(Error(ErrorCode::kInvalidArgument,
                               "refusing to write a tar stream to a terminal; redirect stdout"));
    auto tree = ds ? ds->OpenTreeArchive(*snap, args.archive, *key)
                   : OpenTreeArchive(source->remote, args.archive, source->jobs, *key);
    if (!tree) return ReportError(tree.error());
    auto written = (*tree)->WriteTar(WriteStdout);
    if (!written) return ReportError(written.error());
    return kExitOk;
  }
  auto reader = ds ? ds->OpenArchive(*snap, args.archive, *key)
                   : OpenArchive(source->remote, args.archive, source->jobs, *key);
  if (!reader) return ReportError(reader.error());
  if ((*reader)->kind() != ArchiveReader::Kind::kBlob && StdoutIsTerminal())
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "refusing to write archive data to a terminal; redirect stdout"));
  for (;;) {
    auto piece = (*reader)->Next();
    if (!piece) return ReportError(piece.error());
    if (piece->empty()) break;
    if (auto st = WriteStdout(*piece); !st) return ReportError(st.error());
  }
  return kExitOk;
}

}  // namespace

void RegisterCat(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "cat",
      "Write an archive's raw stream (tar, image, blob), a pxar archive as tar, or the manifest "
      "to stdout");
  AddStoreOptions(cmd, args->store, /*with_ns=*/true, /*with_json=*/false, /*remote_ok=*/true);
  AddJobsOption(cmd, args->store);
  cmd->add_option("snapshot", args->snapshot, "TYPE/ID/TIME")->required();
  cmd->add_option("archive", args->archive,
                  "root.pxar (with --format tar), root.tar, disk.img, x.blob, a file of the "
                  "snapshot (root.mpxar.didx) or index.json.blob")
      ->required();
  cmd->add_option("--format", args->format,
                  "raw (default: the stored stream) or tar (a pxar archive as a pax tar stream)")
      ->check(CLI::IsMember({"raw", "tar"}));
  AddNoAdmitFlag(cmd, args->store, "--no-admit",
                 "S3 stores: read through the local cache without adding to it");
  AddKeyOptions(cmd, args->crypt, KeyUse::kRead);
  cmd->callback([args, &exit_code] { exit_code = RunCat(*args); });
}

}  // namespace chunkvault::cli

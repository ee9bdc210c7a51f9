// chunkvault init --store PATH [--name NAME] [--sync-level LEVEL]
//                 [--s3-endpoint URL --s3-bucket B [--s3-region R] [--s3-path-style]
//                  [--s3-skip-if-none-match] [--s3-fingerprint FP] [--s3-put-rate-limit N]
//                  [--reuse-datastore [--overwrite-in-use]]
//                  [--max-cache-size SIZE] [--cache-policy s3fifo|lru]]
// S3 keys come from AWS_* variables or a profile, never from the command line.
#include <cstdio>

#include "chunkvault/s3_settings.h"
#include "chunkvault/size.h"
#include "cli/common.h"

namespace chunkvault::cli {
namespace {

struct InitArgs {
  StoreOptions store;
  InitOptions init;
  S3Settings s3;  // region empty: from the AWS environment
  std::string max_cache_size, cache_policy;
};

// The S3 settings: the command line first, then the AWS environment and
// profile (AWS_ENDPOINT_URL, AWS_REGION, ...), then AWS's defaults.
Result<std::optional<S3Settings>> S3SettingsOf(const InitArgs& args) {
  const S3Settings& s3 = args.s3;
  if (s3.bucket.empty() && s3.endpoint.empty()) {
    if (args.init.reuse_datastore || s3.path_style || s3.skip_if_none_match ||
        !s3.fingerprint.empty() || !args.max_cache_size.empty() || !args.cache_policy.empty())
      return Fail(ErrorCode::kInvalidArgument, "S3 options need --s3-bucket");
    return std::optional<S3Settings>();
  }
  if (s3.bucket.empty())
    return Fail(ErrorCode::kInvalidArgument, "--s3-endpoint needs --s3-bucket");
  if (args.init.overwrite_in_use && !args.init.reuse_datastore)
    return Fail(ErrorCode::kInvalidArgument, "--overwrite-in-use goes with --reuse-datastore");
  CV_ASSIGN_OR_RETURN(S3Settings resolved, ResolveS3Settings(s3));
  return std::optional<S3Settings>(std::move(resolved));
}

int RunInit(InitArgs args) {
  auto s3 = S3SettingsOf(args);
  if (!s3) return ReportError(s3.error());
  args.init.s3 = *s3;
  if (!args.max_cache_size.empty()) {
    auto size = ParseSize(args.max_cache_size);
    if (!size) return ReportError(size.error().Context("--max-cache-size"));
    args.init.cache.max_size = *size;
  }
  if (!args.cache_policy.empty()) args.init.cache.policy = args.cache_policy;
  args.init.on_s3_retry = ReportS3Retry;
  auto ds = Datastore::Init(Env::Default(), args.store.store, args.init);
  if (!ds) return ReportError(ds.error());
  if (args.store.json) {
    nlohmann::json j = {{"store", (*ds)->path()}, {"name", (*ds)->name()}};
    if (*s3) j["s3"] = {{"endpoint", (*s3)->endpoint}, {"bucket", (*s3)->bucket}, {"prefix", (*ds)->key_prefix()}};
    PrintJson(j);
  } else if (*s3) {
    std::printf("created datastore '%s' in %s, backed by bucket '%s' at %s (prefix '%s')\n",
                (*ds)->name().c_str(), (*ds)->path().c_str(), (*s3)->bucket.c_str(),
                (*s3)->endpoint.c_str(), (*ds)->key_prefix().c_str());
  } else {
    std::printf("created datastore '%s' in %s\n", (*ds)->name().c_str(), (*ds)->path().c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InitArgs>();
  args->s3.region.clear();
  CLI::App* cmd = app.add_subcommand(
      "init", "Create a datastore, on the local filesystem or backed by an S3 bucket");
  AddStoreOptions(cmd, args->store, /*with_ns=*/false, /*with_json=*/true);
  cmd->add_option("--name", args->init.name,
                  "Datastore name, the bucket prefix on S3 (default: the directory's name)");
  cmd->add_option("--sync-level", args->init.sync_level,
                  "none | file (fsync every file) | filesystem (syncfs per backup, default)")
      ->check(CLI::IsMember({"none", "file", "filesystem"}));
  cmd->add_option(
      "--s3-endpoint", args->s3.endpoint,
      "S3 endpoint URL (default: AWS_ENDPOINT_URL, the profile's endpoint_url, or AWS)");
  cmd->add_option("--s3-bucket", args->s3.bucket,
                  "Bucket holding the datastore (makes it S3-backed)");
  cmd->add_option("--s3-region", args->s3.region,
                  "Region (default: AWS_REGION, the profile, us-east-1)");
  cmd->add_flag("--s3-path-style", args->s3.path_style,
                "Address the bucket as endpoint/bucket (Ceph, MinIO) instead of bucket.endpoint "
                "(used anyway for IP-address endpoints and buckets that cannot lead a host name)");
  cmd->add_flag("--s3-skip-if-none-match", args->s3.skip_if_none_match,
                "For providers without conditional PUTs: check with HEAD before uploading");
  cmd->add_option("--s3-fingerprint", args->s3.fingerprint,
                  "SHA-256 fingerprint of the endpoint's (self-signed) certificate");
  cmd->add_option("--s3-put-rate-limit", args->s3.put_rate_limit, "Most PUT requests per second")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--reuse-datastore", args->init.reuse_datastore,
                "Adopt a datastore the bucket already holds under the name (pulls its metadata)");
  cmd->add_flag("--overwrite-in-use", args->init.overwrite_in_use,
                "With --reuse-datastore: take the prefix over from another host");
  cmd->add_option("--max-cache-size", args->max_cache_size,
                  "Most bytes of chunks the local cache keeps, e.g. 50G (default: as much as "
                  "the filesystem has free, less 512 MiB)");
  cmd->add_option("--cache-policy", args->cache_policy,
                  "What the cache keeps: s3fifo (scan-resistant, default) or lru")
      ->check(CLI::IsMember({"s3fifo", "lru"}));
  cmd->callback([args, &exit_code] { exit_code = RunInit(*args); });
}

}  // namespace chunkvault::cli

#include "backend/s3/credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace chunkvault {

namespace {

using IniSections = std::map<std::string, std::map<std::string, std::string>>;

std::string Strip(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// The INI dialect of the AWS files: [section], key = value, # and ; comments.
std::optional<IniSections> ReadIni(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  IniSections out;
  std::string section, line;
  while (std::getline(in, line)) {
    line = Strip(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Strip(line.substr(1, line.size() - 2));
      out[section];
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos || section.empty()) continue;
    out[section][Strip(line.substr(0, eq))] = Strip(line.substr(eq + 1));
  }
  return out;
}

const std::map<std::string, std::string>* Find(const std::optional<IniSections>& ini,
                                               const std::string& section) {
  if (!ini) return nullptr;
  auto it = ini->find(section);
  return it == ini->end() ? nullptr : &it->second;
}

std::optional<std::string> Value(const std::map<std::string, std::string>* section,
                                 const std::string& key) {
  if (section == nullptr) return std::nullopt;
  auto it = section->find(key);
  if (it == section->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

GetEnv ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<AwsSettings> LoadAwsSettings(const GetEnv& env) {
  AwsSettings s;
  s.profile = env("AWS_PROFILE").value_or("default");
  const std::string home = env("HOME").value_or("");
  const std::string credentials_file =
      env("AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials");
  const std::string config_file = env("AWS_CONFIG_FILE").value_or(home + "/.aws/config");
  const auto credentials_ini = ReadIni(credentials_file);
  const auto config_ini = ReadIni(config_file);
  // In the config file profiles are "[profile NAME]", except "[default]".
  const auto* cred_section = Find(credentials_ini, s.profile);
  const auto* config_section =
      Find(config_ini, s.profile == "default" ? "default" : "profile " + s.profile);

  if (auto id = env("AWS_ACCESS_KEY_ID")) {
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (!secret)
      return Fail(ErrorCode::kInvalidArgument,
                  "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    s.credentials = {*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
    s.credentials_source = "environment";
  } else {
    for (auto [section, file] : {std::pair{cred_section, credentials_file},
                                 std::pair{config_section, config_file}}) {
      auto id = Value(section, "aws_access_key_id");
      auto secret = Value(section, "aws_secret_access_key");
      if (!id) continue;
      if (!secret)
        return Fail(ErrorCode::kInvalidArgument, file + " [" + s.profile +
                                                     "] has aws_access_key_id but no "
                                                     "aws_secret_access_key");
      s.credentials = {*id, *secret, Value(section, "aws_session_token").value_or("")};
      s.credentials_source = file + " [" + s.profile + "]";
      break;
    }
  }
  if (s.credentials.access_key_id.empty())
    return Fail(ErrorCode::kNotFound,
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                "profile '" + s.profile + "' to " + credentials_file);

  s.region = env("AWS_REGION");
  if (!s.region) s.region = env("AWS_DEFAULT_REGION");
  if (!s.region) s.region = Value(config_section, "region");
  s.endpoint_url = env("AWS_ENDPOINT_URL_S3");
  if (!s.endpoint_url) s.endpoint_url = env("AWS_ENDPOINT_URL");
  if (!s.endpoint_url) s.endpoint_url = Value(config_section, "endpoint_url");
  return s;
}

}  // namespace chunkvault

namespace chunkvault {

Result<S3Settings> ResolveS3Settings(S3Settings given) {
  return ResolveS3Settings(std::move(given), ProcessEnv());
}

Result<S3Settings> ResolveS3Settings(S3Settings given, const GetEnv& env) {
  if (!given.region.empty() && !given.endpoint.empty()) return given;
  CV_ASSIGN_OR_RETURN(AwsSettings aws, LoadAwsSettings(env));
  if (given.region.empty()) given.region = aws.region.value_or("us-east-1");
  if (given.endpoint.empty())
    given.endpoint =
        aws.endpoint_url ? *aws.endpoint_url : "https://s3." + given.region + ".amazonaws.com";
  return given;
}

}  // namespace chunkvault

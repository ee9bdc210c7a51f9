#include "server/http_message.h"

#include <openssl/evp.h>

#include <charconv>

namespace chunkvault::server {
namespace {

std::optional<std::string> Decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto byte = BytesFromHex(text.substr(i + 1, 2));
      if (!byte) return std::nullopt;
      c = static_cast<char>((*byte)[0]);
      if (c == '\0') return std::nullopt;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out += c;
  }
  return out;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text) { return Decode(text, false); }

Result<Params> Params::ParseForm(std::string_view text) {
  Params params;
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text.remove_prefix(amp == std::string_view::npos ? text.size() : amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = Decode(pair.substr(0, eq), true);
    auto value = Decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value)
      return Fail(ErrorCode::kInvalidArgument, "malformed %-escape in parameters");
    params.Add(std::move(*key), std::move(*value));
  }
  return params;
}

const std::string* Params::Find(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return &v;
  return nullptr;
}

Result<std::string> Params::GetString(std::string_view key) const {
  if (const std::string* v = Find(key)) return *v;
  return Fail(ErrorCode::kInvalidArgument,
              "parameter verification failed - '" + std::string(key) + "': parameter is missing");
}

Result<std::optional<int64_t>> Params::GetOptionalInt(std::string_view key, int64_t min,
                                                      int64_t max) const {
  const std::string* v = Find(key);
  if (!v) return std::optional<int64_t>();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || v->empty())
    return Fail(ErrorCode::kInvalidArgument,
                "parameter verification failed - '" + std::string(key) + "': not an integer");
  if (n < min || n > max)
    return Fail(ErrorCode::kInvalidArgument, "parameter verification failed - '" +
                                                 std::string(key) + "': value must be in " +
                                                 std::to_string(min) + ".." + std::to_string(max));
  return std::optional<int64_t>(n);
}

Result<int64_t> Params::GetInt(std::string_view key, int64_t min, int64_t max) const {
  CV_ASSIGN_OR_RETURN(auto n, GetOptionalInt(key, min, max));
  if (!n)
    return Fail(ErrorCode::kInvalidArgument,
                "parameter verification failed - '" + std::string(key) + "': parameter is missing");
  return *n;
}

Result<bool> Params::GetBool(std::string_view key, bool default_value) const {
  const std::string* v = Find(key);
  if (!v) return default_value;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  return Fail(ErrorCode::kInvalidArgument,
              "parameter verification failed - '" + std::string(key) + "': not a boolean");
}

const std::string* HttpRequest::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? nullptr : &it->second;
}

Result<Params> ParamsOf(const HttpRequest& request) {
  const std::string* type = request.Header("content-type");
  std::string_view media = type ? std::string_view(*type) : std::string_view();
  media = media.substr(0, media.find(';'));
  if (media == "application/json") {
    Params params;
    if (request.body.empty()) return params;
    auto j = nlohmann::json::parse(request.body.begin(), request.body.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Fail(ErrorCode::kInvalidArgument, "request body is not a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (value.is_string())
        params.Add(key, value.get<std::string>());
      else if (value.is_boolean())
        params.Add(key, value.get<bool>() ? "true" : "false");
      else if (value.is_number_integer())
        params.Add(key, value.dump());
      else if (!value.is_null())
        return Fail(ErrorCode::kInvalidArgument,
                    "parameter verification failed - '" + key + "': unexpected type");
    }
    return params;
  }
  if (!media.empty() && media != "application/x-www-form-urlencoded")
    return Fail(ErrorCode::kInvalidArgument, "unsupported content type");
  Params params = request.query;
  CV_ASSIGN_OR_RETURN(Params form, Params::ParseForm(AsString(request.body)));
  for (const auto& [k, v] : form.items()) params.Add(k, v);
  return params;
}

HttpResponse JsonAnswer(const nlohmann::json& value) {
  HttpResponse r;
  nlohmann::json wrapped = {{"data", value}};
  std::string text = wrapped.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body.assign(text.begin(), text.end());
  return r;
}

HttpResponse ErrorAnswer(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body.assign(message.begin(), message.end());
  r.body.push_back('\n');
  return r;
}

int StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kCorrupt:
    case ErrorCode::kEncrypted:
    case ErrorCode::kUnsupported:
    case ErrorCode::kRefused:
      return 400;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kBusy:
    case ErrorCode::kProtected:
      return 409;
    case ErrorCode::kNoSpace:
      return 507;
    case ErrorCode::kNetwork:
      return 502;
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse ErrorAnswer(const Error& error) {
  return ErrorAnswer(StatusFor(error.code()), error.message());
}

HttpResponse BytesAnswer(Bytes body) {
  HttpResponse r;
  r.content_type = "application/octet-stream";
  r.body = std::move(body);
  return r;
}

std::string Base64(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace chunkvault::server

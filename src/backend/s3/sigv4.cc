#include "backend/s3/sigv4.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>
#include <vector>

#include "chunkvault/hash.h"
#include "chunkvault/time.h"

namespace chunkvault {

namespace {

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

Digest Hmac(ByteView key, std::string_view data) {
  Digest out;
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string Trim(std::string_view v) {
  // Trim both ends and collapse runs of spaces, as SigV4 asks.
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string key = UriDecode(part.substr(0, eq), false);
      std::string value = eq == std::string_view::npos ? "" : UriDecode(part.substr(eq + 1), false);
      params.emplace_back(UriEncode(key, false), UriEncode(value, false));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string UriDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += char(hex(text[i + 1]) << 4 | hex(text[i + 2]));
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<UrlParts> ParseUrl(std::string_view url) {
  UrlParts p;
  auto bad = [&](const char* why) {
    return Fail(ErrorCode::kInvalidArgument, "invalid URL '" + std::string(url) + "': " + why);
  };
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return bad("no scheme");
  p.scheme = std::string(url.substr(0, colon));
  std::transform(p.scheme.begin(), p.scheme.end(), p.scheme.begin(), ::tolower);
  if (p.scheme != "http" && p.scheme != "https") return bad("the scheme must be http or https");
  std::string_view rest = url.substr(colon + 3);
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.empty()) return bad("no host");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  size_t port_colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (port_colon != std::string_view::npos &&
      (bracket == std::string_view::npos || port_colon > bracket)) {
    p.host = std::string(authority.substr(0, port_colon));
    p.port = std::string(authority.substr(port_colon + 1));
    if (p.port.empty() || !std::all_of(p.port.begin(), p.port.end(), ::isdigit))
      return bad("the port is not a number");
  } else {
    p.host = std::string(authority);
  }
  size_t q = rest.find('?');
  const std::string_view path = rest.substr(0, q);
  p.path = path.empty() ? std::string(1, '/') : std::string(path);
  if (q != std::string_view::npos) p.query = std::string(rest.substr(q + 1));
  return p;
}

std::string AmzDate(int64_t time) { return FormatUtc(time, "%Y%m%dT%H%M%SZ"); }

std::string SignRequest(HttpRequest& request, const Credentials& credentials,
                        const SigningContext& context, std::string_view payload_hash) {
  const UrlParts url = *ParseUrl(request.url);  // the S3 client builds valid URLs
  const std::string amz_date = AmzDate(context.time);
  // A request signed before (a retry) must not sign its old signature.
  std::erase_if(request.headers, [](const HttpHeader& h) {
    std::string lower = h.name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    return lower == "authorization";
  });
  const std::string date = amz_date.substr(0, 8);

  auto set = [&](const std::string& name, const std::string& value) {
    for (HttpHeader& h : request.headers) {
      std::string lower = h.name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower == name) {
        h.value = value;
        return;
      }
    }
    request.headers.push_back({name, value});
  };
  set("host", url.Authority());
  set("x-amz-date", amz_date);
  set("x-amz-content-sha256", std::string(payload_hash));
  if (!credentials.session_token.empty()) set("x-amz-security-token", credentials.session_token);

  std::map<std::string, std::string> canonical;  // lower-case name -> values
  for (const HttpHeader& h : request.headers) {
    std::string name = h.name;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string& v = canonical[name];
    if (!v.empty()) v += ',';
    v += Trim(h.value);
  }
  std::string headers_block, signed_headers;
  for (const auto& [name, value] : canonical) {
    headers_block += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  const std::string canonical_request = request.method + "\n" + url.path + "\n" +
                                        CanonicalQuery(url.query) + "\n" + headers_block + "\n" +
                                        signed_headers + "\n" + std::string(payload_hash);
  const std::string scope = date + "/" + context.region + "/" + context.service + "/aws4_request";
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" +
                                     ToHex(Sha256Of(AsBytes(canonical_request)));
  Digest key = Hmac(AsBytes("AWS4" + credentials.secret_access_key), date);
  key = Hmac(key, context.region);
  key = Hmac(key, context.service);
  key = Hmac(key, "aws4_request");
  const std::string signature = ToHex(Hmac(key, string_to_sign));
  set("authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                           ",SignedHeaders=" + signed_headers + ",Signature=" + signature);
  return canonical_request;
}

}  // namespace chunkvault

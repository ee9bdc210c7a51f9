#include "client/connection.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>

#include "chunkvault/hash.h"
#include "client/h2_session.h"

namespace chunkvault::client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr int kTimeoutSeconds = 120;  // PBS's request timeout

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string FingerprintOf(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return "";
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  std::string hex = ToHex(Sha256Of(der)), out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string Encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (Unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class TlsConnection final : public Connection {
 public:
  TlsConnection(Repository repo, Credentials creds)
      : repo_(std::move(repo)), creds_(std::move(creds)), ctx_(ssl::context::tls_client) {}

  Status Connect() {
    boost::system::error_code ec;
    ctx_.set_default_verify_paths(ec);
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    stream_ = std::make_unique<TlsStream>(*ioc_, ctx_);
    tcp::resolver resolver(*ioc_);
    auto endpoints = resolver.resolve(repo_.host, std::to_string(repo_.port), ec);
    if (ec) return Fail(ErrorCode::kNetwork, "resolve " + repo_.host + ": " + ec.message());
    auto& socket = beast::get_lowest_layer(*stream_).socket();
    net::connect(socket, endpoints, ec);
    if (ec)
      return Fail(ErrorCode::kNetwork, "connect to " + repo_.Authority() + ": " + ec.message());
    socket.set_option(tcp::no_delay(true), ec);
    timeval tv{kTimeoutSeconds, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // The chain is checked by hand below: the handshake must go through
    // for a self-signed certificate, whose fingerprint is then compared.
    stream_->set_verify_mode(ssl::verify_peer);
    stream_->set_verify_callback([this](bool preverified, ssl::verify_context&) {
      if (!preverified) chain_ok_ = false;
      return true;
    });
    if (!SSL_set_tlsext_host_name(stream_->native_handle(), repo_.host.c_str())) {
      // SNI is a courtesy; go on without it.
    }
    stream_->handshake(ssl::stream_base::client, ec);
    if (ec) return Fail(ErrorCode::kNetwork, "TLS with " + repo_.Authority() + ": " + ec.message());
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (!cert)
      return Fail(ErrorCode::kPermissionDenied, repo_.Authority() + " sent no certificate");
    fingerprint_ = FingerprintOf(cert);
    X509_free(cert);
    const std::string expected = Lower(creds_.fingerprint);
    if (!expected.empty() ? expected != fingerprint_ : !chain_ok_)
      return Fail(ErrorCode::kPermissionDenied,
                  "the certificate of " + repo_.Authority() +
                      (expected.empty() ? " is not trusted"
                                        : " does not have the pinned fingerprint " + expected) +
                      "; its fingerprint is " + fingerprint_ +
                      " (trust it with --fingerprint or CHUNKVAULT_FINGERPRINT / PBS_FINGERPRINT)");
    if (repo_.auth_id.find('!') == std::string::npos) return LogIn();
    return {};
  }

  const std::string& fingerprint() const override { return fingerprint_; }

  Result<Response> Request(const std::string& method, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& query,
                           const nlohmann::json* body) override {
    if (!stream_) return Fail(ErrorCode::kInternal, "the connection was given to a session");
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(query.empty() ? path : path + "?" + EncodeQuery(query));
    req.version(11);
    req.set(http::field::host, repo_.Authority());
    req.set(http::field::user_agent, "proxmox-backup-client/1.0");
    Authorize(req, method);
    if (body) {
      req.set(http::field::content_type, "application/json");
      req.body() = body->dump();
    } else {
      req.set(http::field::content_type, "application/x-www-form-urlencoded");
    }
    req.prepare_payload();
    boost::system::error_code ec;
    http::write(*stream_, req, ec);
    if (ec) return Fail(ErrorCode::kNetwork, method + " " + path + ": " + ec.message());
    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(64u << 20);
    http::read(*stream_, buffer_, parser, ec);
    if (ec) return Fail(ErrorCode::kNetwork, method + " " + path + ": " + ec.message());
    auto& msg = parser.get();
    Response r;
    r.status = static_cast<int>(msg.result_int());
    r.content_type = std::string(msg[http::field::content_type]);
    r.body = std::move(msg.body());
    return r;
  }

  Result<std::unique_ptr<H2Session>> Upgrade(
      const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
      const std::string& protocol) override {
    if (!stream_) return Fail(ErrorCode::kInternal, "the connection was given to a session");
    http::request<http::empty_body> req;
    req.method(http::verb::get);
    req.target(path + "?" + EncodeQuery(query));
    req.version(11);
    req.set(http::field::host, repo_.Authority());
    req.set(http::field::user_agent, "proxmox-backup-client/1.0");
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.set(http::field::connection, "upgrade");
    req.set(http::field::upgrade, protocol);
    Authorize(req, "GET");
    boost::system::error_code ec;
    http::write(*stream_, req, ec);
    if (ec) return Fail(ErrorCode::kNetwork, "GET " + path + ": " + ec.message());
    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(1u << 20);
    // Read only the head: bytes past it belong to HTTP/2.
    http::read_header(*stream_, buffer_, parser, ec);
    if (ec) return Fail(ErrorCode::kNetwork, "GET " + path + ": " + ec.message());
    if (parser.get().result_int() != 101) {
      if (!parser.is_done()) http::read(*stream_, buffer_, parser, ec);
      Response r;
      r.status = static_cast<int>(parser.get().result_int());
      r.body = std::move(parser.get().body());
      auto data = DataOf(r);
      if (!data) return std::unexpected(data.error());
      return Fail(ErrorCode::kNetwork, "the server did not switch protocols");
    }
    auto data = buffer_.data();
    Bytes leftover(static_cast<const uint8_t*>(data.data()),
                   static_cast<const uint8_t*>(data.data()) + data.size());
    return StartH2Session(std::move(ioc_), std::move(stream_), std::move(leftover));
  }

 private:
  template <class Req>
  void Authorize(Req& req, const std::string& method) {
    if (repo_.auth_id.find('!') != std::string::npos) {
      req.set(http::field::authorization,
              "PBSAPIToken " + repo_.auth_id + ":" + Encode(creds_.secret));
    } else if (!ticket_.empty()) {
      req.set(http::field::cookie, "PBSAuthCookie=" + Encode(ticket_));
      (void)method;  // PBS's client sends the CSRF token on every request
      req.set("CSRFPreventionToken", csrf_);
    }
  }

  Status LogIn() {
    nlohmann::json body = {{"username", repo_.auth_id}, {"password", creds_.secret}};
    CV_ASSIGN_OR_RETURN(Response r, Request("POST", "/api2/json/access/ticket", {}, &body));
    if (r.status == 401)
      return Fail(ErrorCode::kPermissionDenied,
                  "login as " + repo_.auth_id + " at " + repo_.Authority() + " failed");
    CV_ASSIGN_OR_RETURN(nlohmann::json data, DataOf(r));
    if (!data.is_object() || !data.contains("ticket") || !data["ticket"].is_string() ||
        !data.contains("CSRFPreventionToken") || !data["CSRFPreventionToken"].is_string())
      return Fail(ErrorCode::kNetwork, "the login answer holds no ticket");
    ticket_ = data["ticket"].get<std::string>();
    csrf_ = data["CSRFPreventionToken"].get<std::string>();
    return {};
  }

  Repository repo_;
  Credentials creds_;
  std::unique_ptr<net::io_context> ioc_ = std::make_unique<net::io_context>(1);
  ssl::context ctx_;
  std::unique_ptr<TlsStream> stream_;
  beast::flat_buffer buffer_;
  bool chain_ok_ = true;
  std::string fingerprint_;
  std::string ticket_, csrf_;
};

}  // namespace

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  for (const auto& [k, v] : query) {
    if (!out.empty()) out += '&';
    out += Encode(k) + "=" + Encode(v);
  }
  return out;
}

Result<nlohmann::json> DataOf(const Response& r) {
  const std::string text(r.body.begin(), r.body.end());
  if (r.status < 200 || r.status >= 300) {
    std::string message = text;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r'))
      message.pop_back();
    const ErrorCode code = r.status == 401 || r.status == 403 ? ErrorCode::kPermissionDenied
                           : r.status == 404                  ? ErrorCode::kNotFound
                           : r.status == 409                  ? ErrorCode::kBusy
                           : r.status >= 500                  ? ErrorCode::kNetwork
                                                              : ErrorCode::kRefused;
    return Fail(code, "server: HTTP " + std::to_string(r.status) + ": " + message);
  }
  if (r.body.empty()) return nlohmann::json(nullptr);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data"))
    return Fail(ErrorCode::kNetwork, "server: an answer that is not {\"data\": ...}");
  return j["data"];
}

Result<nlohmann::json> H2Session::Call(
    const std::string& method, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& query, Bytes body,
    const std::string& content_type) {
  auto answer = Start(method, path, query, std::move(body), content_type).get();
  if (!answer) return std::unexpected(answer.error());
  return DataOf(*answer);
}

Result<std::unique_ptr<Connection>> Connection::Open(const Repository& repo,
                                                     const Credentials& credentials) {
  auto c = std::make_unique<TlsConnection>(repo, credentials);
  CV_RETURN_IF_ERROR(c->Connect());
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace chunkvault::client

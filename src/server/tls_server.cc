#include "server/tls_server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "server/asio_stream.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {
namespace {

namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr size_t kMaxHeaderBytes = 16 << 10;
// The most of a refused body read and dropped before closing (a lingering
// close), so that its sender sees the 413.
constexpr uint64_t kMaxDrainBytes = 32 << 20;

// Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3 keeps OpenSSL's), as
// PBS's acceptor.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

struct Connection {
  explicit Connection(tcp::socket socket, ssl::context& ctx) : stream(std::move(socket), ctx) {}
  TlsStream stream;
  beast::flat_buffer buffer;
  std::string peer;
  // Waiting for its next HTTP/1.1 request (closed at once on shutdown).
  std::atomic<bool> idle{true};
};

HttpRequest ToRequest(http::request<http::vector_body<uint8_t>>& msg, const std::string& peer,
                      std::string* error) {
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.peer = peer;
  const auto raw_target = msg.target();
  std::string_view target(raw_target.data(), raw_target.size());
  auto q = target.find('?');
  auto path = PercentDecode(target.substr(0, q));
  if (!path) {
    *error = "malformed path";
    return req;
  }
  req.path = std::move(*path);
  if (q != std::string_view::npos) {
    auto params = Params::ParseForm(target.substr(q + 1));
    if (!params) {
      *error = params.error().message();
      return req;
    }
    req.query = std::move(*params);
  }
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    req.headers.emplace(std::move(name), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  return req;
}

http::response<http::vector_body<uint8_t>> ToMessage(HttpResponse& r, bool keep_alive) {
  http::response<http::vector_body<uint8_t>> res;
  res.version(11);
  res.result(static_cast<unsigned>(r.status));
  if (r.status != 101) res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  if (r.status != 101) {
    res.keep_alive(keep_alive);
    res.prepare_payload();
  }
  return res;
}

class Server final : public TlsServer {
 public:
  Server(const TlsServerOptions& options, HttpService& service)
      : options_(options),
        service_(service),
        ioc_(static_cast<int>(std::max<size_t>(1, options.io_threads))),
        ctx_(ssl::context::tls_server),
        acceptor_(ioc_),
        workers_(std::max<size_t>(1, options.workers)) {}

  Status Init() {
    boost::system::error_code ec;
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX_set_cipher_list(ctx_.native_handle(), kTls12Ciphers);
    ctx_.use_certificate_chain_file(options_.cert_path, ec);
    if (ec) return Fail(ErrorCode::kInvalidArgument, options_.cert_path + ": " + ec.message());
    ctx_.use_private_key_file(options_.key_path, ssl::context::pem, ec);
    if (ec) return Fail(ErrorCode::kInvalidArgument, options_.key_path + ": " + ec.message());

    auto address = net::ip::make_address(options_.address, ec);
    if (ec) return Fail(ErrorCode::kInvalidArgument, "listen address '" + options_.address + "'");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec && address.is_v6()) acceptor_.set_option(net::ip::v6_only(false), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return Fail(ErrorCode::kIo, "listen on " + options_.address + " port " +
                                      std::to_string(options_.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(acceptor_.get_executor(), Accept(), net::detached);
    for (size_t i = 0; i < std::max<size_t>(1, options_.io_threads); ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return {};
  }

  ~Server() override { Shutdown(std::chrono::seconds(0)); }

  uint16_t port() const override { return port_; }

  void Shutdown(std::chrono::seconds grace) override {
    if (shut_down_.exchange(true)) return;
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      closed.set_value();
    });
    if (!threads_.empty()) closed.get_future().wait();
    std::unique_lock lock(mu_);
    stopping_ = true;
    Log("listener closed; " + std::to_string(connections_.size()) + " connections open");
    for (auto& [id, weak] : connections_)
      if (auto c = weak.lock(); c && c->idle) Close(c);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    cv_.wait_until(lock, deadline, [this] { return connections_.empty(); });
    for (auto& [id, weak] : connections_)
      if (auto c = weak.lock()) Close(c);
    cv_.wait(lock, [this] { return connections_.empty(); });
    lock.unlock();
    workers_.join();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  static void Close(const std::shared_ptr<Connection>& c) {
    net::post(c->stream.get_executor(), [c] { beast::get_lowest_layer(c->stream).close(); });
  }

  net::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(net::make_strand(ioc_),
                                                    net::redirect_error(net::use_awaitable, ec));
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) {
        Log("accept: " + ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(tcp::socket(std::move(socket)), ctx_);
      boost::system::error_code peer_ec;
      auto remote = beast::get_lowest_layer(conn->stream).socket().remote_endpoint(peer_ec);
      conn->peer =
          peer_ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
      uint64_t id = 0;
      {
        std::lock_guard lock(mu_);
        if (stopping_ || connections_.size() >= options_.max_connections) {
          Log("connection from " + conn->peer +
              " refused: " + (stopping_ ? "shutting down" : "too many connections"));
          continue;  // the socket closes with conn
        }
        id = ++next_id_;
        connections_.emplace(id, conn);
      }
      beast::get_lowest_layer(conn->stream).socket().set_option(tcp::no_delay(true), ec);
      net::co_spawn(conn->stream.get_executor(), Serve(conn), [this, id](std::exception_ptr) {
        std::lock_guard lock(mu_);
        connections_.erase(id);
        cv_.notify_all();
      });
    }
  }

  net::awaitable<void> Serve(std::shared_ptr<Connection> conn) {
    auto& stream = conn->stream;
    auto& tcp_layer = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    tcp_layer.expires_after(options_.request_timeout);
    // As PBS's acceptor: what does not start with a TLS handshake record
    // (0x16 0x03 x, length at most 16 KiB) is plain HTTP, answered with a
    // redirect to https.
    while (conn->buffer.size() < 5) {
      const size_t n = co_await tcp_layer.async_read_some(
          conn->buffer.prepare(512), net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      conn->buffer.commit(n);
    }
    const auto* head = static_cast<const uint8_t*>(conn->buffer.data().data());
    if (head[0] != 0x16 || head[1] != 0x03 || ((head[3] << 8) | head[4]) > 0x4000) {
      co_await RedirectToHttps(conn);
      co_return;
    }
    const size_t used = co_await stream.async_handshake(
        ssl::stream_base::server, conn->buffer.data(), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;  // a broken handshake, or gone: nothing to answer
    conn->buffer.consume(used);
    for (;;) {
      http::request_parser<http::vector_body<uint8_t>> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(options_.max_body_bytes);
      conn->idle = true;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
      }
      tcp_layer.expires_after(options_.request_timeout);
      co_await http::async_read(stream, conn->buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      conn->idle = false;
      if (ec == http::error::end_of_stream || ec == net::error::eof ||
          ec == net::ssl::error::stream_truncated)
        break;
      if (ec) {
        int status = ec == http::error::body_limit                                        ? 413
                     : ec == http::error::header_limit                                    ? 431
                     : ec == beast::error::timeout || ec == net::error::operation_aborted ? 0
                                                                                          : 400;
        if (status == 0) co_return;
        HttpResponse error = ErrorAnswer(status, "bad request: " + ec.message());
        auto res = ToMessage(error, false);
        tcp_layer.expires_after(options_.request_timeout);
        co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
        // A body too large is still on its way: read it and drop it (up to
        // what it announced, at most kMaxDrainBytes, within the timeout)
        // before closing, or closing with it unread resets the connection
        // and the client loses the 413 (a lingering close).
        if (status == 413 && !ec) {
          // From the header (boost::optional's accessors trip GCC 12's
          // maybe-uninitialized warning).
          const auto announced = parser.get()[http::field::content_length];
          uint64_t left = 0;
          std::from_chars(announced.data(), announced.data() + announced.size(), left);
          left = std::min(left, kMaxDrainBytes);
          left -= std::min<uint64_t>(left, conn->buffer.size());
          conn->buffer.consume(conn->buffer.size());
          std::vector<uint8_t> scratch(64 << 10);
          while (left > 0 && !ec) {
            const size_t n = co_await stream.async_read_some(
                net::buffer(scratch.data(), std::min<uint64_t>(left, scratch.size())),
                net::redirect_error(net::use_awaitable, ec));
            left -= std::min<uint64_t>(left, n);
          }
        }
        break;
      }
      auto& msg = parser.get();
      const bool keep_alive = msg.keep_alive();
      std::string bad;
      HttpRequest request = ToRequest(msg, conn->peer, &bad);
      Handled handled;
      if (!bad.empty()) {
        handled.response = ErrorAnswer(400, bad);
      } else {
        tcp_layer.expires_never();
        // A named job, not a lambda inside the co_await (GCC 12 mishandles
        // init-captures there); `request` lives in this frame meanwhile.
        auto job = [this, &request]() -> Handled {
          try {
            return service_.Handle(std::move(request));
          } catch (const std::exception& e) {
            Handled h;
            h.response = ErrorAnswer(500, std::string("internal error: ") + e.what());
            return h;
          }
        };
        handled = co_await OnPool(workers_, job);
      }
      if (handled.not_before > std::chrono::steady_clock::now()) {
        net::steady_timer timer(stream.get_executor(), handled.not_before);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      const bool upgrade = handled.upgrade && handled.response.status == 101;
      auto res = ToMessage(handled.response, keep_alive && !upgrade);
      tcp_layer.expires_after(options_.request_timeout);
      co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (handled.upgrade) handled.upgrade->End();
        co_return;
      }
      if (upgrade) {
        tcp_layer.expires_never();
        auto data = conn->buffer.data();
        Bytes leftover(static_cast<const uint8_t*>(data.data()),
                       static_cast<const uint8_t*>(data.data()) + data.size());
        conn->buffer.consume(data.size());
        co_await ServeHttp2(stream, std::move(leftover), *handled.upgrade, workers_, options_,
                            conn->peer);
        handled.upgrade->End();
        co_return;
      }
      if (!keep_alive || !res.keep_alive()) break;
    }
    tcp_layer.expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
  }

  // One plain HTTP/1.1 request on `conn`, answered as PBS's redirector:
  // 301 (GET, HEAD) or 308 to https://<Host><target>, then closed.
  net::awaitable<void> RedirectToHttps(std::shared_ptr<Connection> conn) {
    auto& tcp_layer = beast::get_lowest_layer(conn->stream);
    boost::system::error_code ec;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    co_await http::async_read_header(tcp_layer, conn->buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    const auto& msg = parser.get();
    const std::string host(msg[http::field::host]);
    const std::string target(msg.target());
    const bool host_ok =
        !host.empty() && host.size() < 256 &&
        host.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
            std::string::npos;
    const bool target_ok = !target.empty() && target.front() == '/' &&
                           std::none_of(target.begin(), target.end(), [](char c) {
                             return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
                           });
    http::response<http::string_body> res;
    res.version(11);
    if (!host_ok || !target_ok) {
      res.result(http::status::bad_request);
      res.body() = "plain HTTP: use https\n";
    } else {
      const bool get = msg.method() == http::verb::get || msg.method() == http::verb::head;
      res.result(get ? http::status::moved_permanently : http::status::permanent_redirect);
      res.set(http::field::location, "https://" + host + target);
    }
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(tcp_layer, res, net::redirect_error(net::use_awaitable, ec));
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  TlsServerOptions options_;
  HttpService& service_;
  net::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> shut_down_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ CV_GUARDED_BY(mu_) = false;
  uint64_t next_id_ CV_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::weak_ptr<Connection>> connections_ CV_GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<TlsServer>> TlsServer::Start(const TlsServerOptions& options,
                                                    HttpService& service) {
  auto server = std::make_unique<Server>(options, service);
  CV_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<TlsServer>(std::move(server));
}

}  // namespace chunkvault::server

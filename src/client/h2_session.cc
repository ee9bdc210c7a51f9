// The client's HTTP/2 session. All nghttp2 calls and all I/O run on the
// session's one thread (its io_context); Start posts a request there and
// hands back a future that the thread fulfils.
#include "client/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <map>
#include <thread>

namespace chunkvault::client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;

constexpr int32_t kWindow = 2147483646;  // 2^31 - 2, as PBS's client
constexpr uint32_t kMaxFrame = 4 << 20;
constexpr size_t kMaxAnswer = 64u << 20;
constexpr size_t kWriteBatch = 1 << 20;

class ClientH2 final : public H2Session {
 public:
  ClientH2(std::unique_ptr<net::io_context> ioc, std::unique_ptr<TlsStream> stream)
      : ioc_(std::move(ioc)),
        stream_(std::move(stream)),
        wake_(*ioc_),
        work_(net::make_work_guard(*ioc_)) {}

  ~ClientH2() override {
    net::post(*ioc_, [this] {
      closing_ = true;
      beast::get_lowest_layer(*stream_).close();
      wake_.cancel();
    });
    work_.reset();
    if (thread_.joinable()) thread_.join();
    FailAll("the session was closed");
    if (ng_) nghttp2_session_del(ng_);
  }

  Status Init(Bytes leftover) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &ClientH2::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &ClientH2::OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &ClientH2::OnStreamClose);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, &ClientH2::FrameLength);
    const int rv = nghttp2_session_client_new(&ng_, cb, this);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return Fail(ErrorCode::kInternal, "nghttp2 session");
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindow)},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrame},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0 ||
        nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, kWindow) != 0)
      return Fail(ErrorCode::kInternal, "nghttp2 settings");
    if (!leftover.empty() && nghttp2_session_mem_recv(ng_, leftover.data(), leftover.size()) < 0)
      return Fail(ErrorCode::kNetwork, "the server's first HTTP/2 bytes are malformed");
    net::co_spawn(*ioc_, Reader(), net::detached);
    net::co_spawn(*ioc_, Writer(), net::detached);
    thread_ = std::thread([this] { ioc_->run(); });
    return {};
  }

  std::future<Result<Response>> Start(const std::string& method, const std::string& path,
                                      const std::vector<std::pair<std::string, std::string>>& query,
                                      Bytes body, const std::string& content_type) override {
    auto pending = std::make_shared<Pending>();
    auto future = pending->promise.get_future();
    pending->method = method;
    pending->path = query.empty() ? path : path + "?" + EncodeQuery(query);
    pending->content_type =
        content_type.empty() ? "application/x-www-form-urlencoded" : content_type;
    pending->body = std::move(body);
    net::post(*ioc_, [this, pending] { Submit(pending); });
    return future;
  }

 private:
  struct Pending {
    std::promise<Result<Response>> promise;
    std::string method, path, content_type;
    Bytes body;
    size_t sent = 0;
    Response answer;
    bool too_large = false;
  };

  void Submit(const std::shared_ptr<Pending>& p) {
    if (closing_ || failed_) {
      p->promise.set_value(Fail(ErrorCode::kNetwork, "the HTTP/2 session has ended: " + failure_));
      return;
    }
    std::string scheme = "https", authority = "localhost:8007", agent = "proxmox-backup-client/1.0";
    std::string m = p->method, path = p->path, type = p->content_type;
    auto nv = [](std::string& n, std::string& v) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                        n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    std::string k_method = ":method", k_scheme = ":scheme", k_authority = ":authority",
                k_path = ":path", k_agent = "user-agent", k_type = "content-type";
    nghttp2_nv headers[] = {nv(k_method, m),  nv(k_scheme, scheme), nv(k_authority, authority),
                            nv(k_path, path), nv(k_agent, agent),   nv(k_type, type)};
    nghttp2_data_provider provider{};
    provider.source.ptr = p.get();
    provider.read_callback = &ClientH2::ReadBody;
    const int32_t id = nghttp2_submit_request(ng_, nullptr, headers, std::size(headers),
                                              p->body.empty() ? nullptr : &provider, nullptr);
    if (id < 0) {
      p->promise.set_value(
          Fail(ErrorCode::kNetwork, std::string("HTTP/2 request: ") + nghttp2_strerror(id)));
      return;
    }
    streams_[id] = p;
    wake_.cancel();
  }

  // DATA frames as large as the windows and the server's frame limit allow
  // (nghttp2 sends 16 KiB frames otherwise): fewer frames per chunk.
  static ssize_t FrameLength(nghttp2_session*, uint8_t, int32_t, int32_t session_window,
                             int32_t stream_window, uint32_t max_frame, void*) {
    return std::max<ssize_t>(
        1, std::min<ssize_t>({session_window, stream_window, static_cast<ssize_t>(max_frame)}));
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
    auto* p = static_cast<Pending*>(source->ptr);
    const size_t n = std::min(length, p->body.size() - p->sent);
    std::memcpy(buf, p->body.data() + p->sent, n);
    p->sent += n;
    if (p->sent == p->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<ClientH2*>(user);
    auto it = self->streams_.find(frame->hd.stream_id);
    if (it == self->streams_.end()) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status")
      it->second->answer.status = std::atoi(v.c_str());
    else if (n == "content-type")
      it->second->answer.content_type = v;
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<ClientH2*>(user);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return 0;
    Pending& p = *it->second;
    if (p.answer.body.size() + len > kMaxAnswer) {
      p.too_large = true;
      return 0;
    }
    p.answer.body.insert(p.answer.body.end(), data, data + len);
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto* self = static_cast<ClientH2*>(user);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return 0;
    std::shared_ptr<Pending> p = it->second;
    self->streams_.erase(it);
    if (p->too_large)
      p->promise.set_value(Fail(ErrorCode::kNetwork, "the server's answer to " + p->path +
                                                         " is larger than any it should send"));
    else if (p->answer.status == 0)
      p->promise.set_value(Fail(ErrorCode::kNetwork, "the server reset " + p->method + " " +
                                                         p->path + " (" +
                                                         nghttp2_http2_strerror(error_code) + ")"));
    else
      p->promise.set_value(std::move(p->answer));
    return 0;
  }

  void FailAll(const std::string& why) {
    if (failure_.empty()) failure_ = why;
    for (auto& [id, p] : streams_)
      p->promise.set_value(Fail(ErrorCode::kNetwork, "connection to the server lost: " + why));
    streams_.clear();
  }

  net::awaitable<void> Reader() {
    Bytes buffer(256 << 10);
    boost::system::error_code ec;
    for (;;) {
      const size_t n = co_await stream_->async_read_some(
          net::buffer(buffer), net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      if (nghttp2_session_mem_recv(ng_, buffer.data(), n) < 0) {
        ec = net::error::invalid_argument;
        break;
      }
      wake_.cancel();
    }
    failed_ = true;
    FailAll(closing_ ? "closed" : ec.message());
    wake_.cancel();
  }

  net::awaitable<void> Writer() {
    Bytes out;
    boost::system::error_code ec;
    while (!failed_ && !closing_) {
      out.clear();
      while (out.size() < kWriteBatch) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(ng_, &data);
        if (n <= 0) break;
        out.insert(out.end(), data, data + n);
      }
      if (!out.empty()) {
        co_await net::async_write(*stream_, net::buffer(out),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          beast::get_lowest_layer(*stream_).close();
          co_return;
        }
        continue;
      }
      wake_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<TlsStream> stream_;
  net::steady_timer wake_;
  // Keeps the thread running until the destructor, so that every posted
  // request is answered (with an error once the connection is gone).
  net::executor_work_guard<net::io_context::executor_type> work_;
  nghttp2_session* ng_ = nullptr;
  std::map<int32_t, std::shared_ptr<Pending>> streams_;
  bool closing_ = false;
  bool failed_ = false;
  std::string failure_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<H2Session>> StartH2Session(std::unique_ptr<net::io_context> ioc,
                                                  std::unique_ptr<TlsStream> stream,
                                                  Bytes leftover) {
  auto session = std::make_unique<ClientH2>(std::move(ioc), std::move(stream));
  CV_RETURN_IF_ERROR(session->Init(std::move(leftover)));
  return std::unique_ptr<H2Session>(std::move(session));
}

}  // namespace chunkvault::client

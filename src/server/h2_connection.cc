// HTTP/2 on an upgraded connection (nghttp2 as the server session; Asio
// reads and writes the TLS stream). Everything here runs on the
// connection's strand except the handlers, which run on the worker pool.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <map>

#include "server/asio_stream.h"

namespace chunkvault::server {
namespace {

constexpr int32_t kWindow = 32 << 20;    // stream and connection, as PBS
constexpr uint32_t kMaxFrame = 4 << 20;  // as PBS
constexpr uint32_t kMaxStreams = 200;    // hyper's default, PBS's server
constexpr uint32_t kMaxHeaderList = 16 << 10;
constexpr size_t kReadBuffer = 256 << 10;
constexpr size_t kWriteBatch = 1 << 20;

class Http2 {
 public:
  Http2(TlsStream& stream, ProtocolSession& session, net::thread_pool& workers,
        const TlsServerOptions& options, const std::string& peer)
      : stream_(stream),
        session_(session),
        workers_(workers),
        options_(options),
        peer_(peer),
        wake_(stream.get_executor()),
        drained_(stream.get_executor()),
        watchdog_(stream.get_executor()) {}

  ~Http2() {
    if (ng_) nghttp2_session_del(ng_);
  }

  net::awaitable<void> Run(Bytes leftover) {
    if (!Setup()) co_return;
    last_activity_ = std::chrono::steady_clock::now();
    if (!leftover.empty() && !Receive(leftover.data(), leftover.size())) reading_ = false;
    auto executor = stream_.get_executor();
    net::co_spawn(executor, Writer(), [this](std::exception_ptr) {
      writer_done_ = true;
      drained_.cancel();
    });
    net::co_spawn(executor, Watchdog(), [this](std::exception_ptr) {
      watchdog_done_ = true;
      drained_.cancel();
    });
    Bytes buffer(kReadBuffer);
    boost::system::error_code ec;
    while (reading_) {
      // Backpressure: no more requests read than the streams allowed.
      while (in_flight_ >= kMaxStreams && !ec) co_await Wait(drained_, ec);
      size_t n = co_await stream_.async_read_some(net::buffer(buffer),
                                                  net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      last_activity_ = std::chrono::steady_clock::now();
      if (!Receive(buffer.data(), n)) break;
      Kick();
      if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) break;
    }
    reading_ = false;
    Kick();
    watchdog_.cancel();
    // The session ends only after every handler returned and the writer
    // stopped (both reference this frame).
    while (in_flight_ > 0 || !writer_done_ || !watchdog_done_) {
      boost::system::error_code ignored;
      co_await Wait(drained_, ignored);
    }
  }

 private:
  struct Stream {
    HttpRequest request;
    size_t header_bytes = 0;
    size_t received = 0;  // body bytes received, not yet given back to flow control
    bool too_large = false;
    bool dispatched = false;
    Bytes answer;
    size_t answer_offset = 0;
  };

  static net::awaitable<void> Wait(net::steady_timer& timer, boost::system::error_code& ec) {
    timer.expires_at(std::chrono::steady_clock::time_point::max());
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) ec = {};
  }

  void Kick() { wake_.cancel(); }

  void Log(const std::string& line) const {
    if (options_.log) options_.log(peer_ + ": " + line);
  }

  bool Setup() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Http2::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Http2::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Http2::OnData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Http2::OnFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Http2::OnStreamClose);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // Flow control is given back only when a request was handled.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rv = nghttp2_session_server_new2(&ng_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return false;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindow)},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrame},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, kMaxHeaderList},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0)
      return false;
    return nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, kWindow) == 0;
  }

  bool Receive(const uint8_t* data, size_t size) {
    ssize_t rv = nghttp2_session_mem_recv(ng_, data, size);
    if (rv < 0) {
      Log(std::string("HTTP/2 protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
      return false;
    }
    return true;
  }

  net::awaitable<void> Writer() {
    Bytes out;
    boost::system::error_code ec;
    for (;;) {
      out.clear();
      while (out.size() < kWriteBatch) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(ng_, &data);
        if (n < 0) {
          Log(std::string("HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(n)));
          reading_ = false;
          beast::get_lowest_layer(stream_).close();
          co_return;
        }
        if (n == 0) break;
        out.insert(out.end(), data, data + n);
      }
      if (!out.empty()) {
        co_await net::async_write(stream_, net::buffer(out),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          reading_ = false;
          beast::get_lowest_layer(stream_).close();
          co_return;
        }
        last_activity_ = std::chrono::steady_clock::now();
        continue;
      }
      if (!reading_ && in_flight_ == 0) co_return;
      if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) {
        // GOAWAY sent and nothing left: end the connection.
        beast::get_lowest_layer(stream_).close();
        co_return;
      }
      co_await Wait(wake_, ec);
    }
  }

  net::awaitable<void> Watchdog() {
    boost::system::error_code ec;
    while (reading_) {
      watchdog_.expires_after(std::chrono::seconds(5));
      co_await watchdog_.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (!reading_) co_return;
      if (in_flight_ == 0 &&
          std::chrono::steady_clock::now() - last_activity_ > options_.idle_timeout) {
        Log("HTTP/2 connection idle; closed");
        beast::get_lowest_layer(stream_).close();
        co_return;
      }
    }
  }

  Stream* Find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : &it->second;
  }

  void Dispatch(int32_t id, Stream& s) {
    s.dispatched = true;
    HttpRequest request = std::move(s.request);
    if (s.too_large) {
      Answer(id, ErrorAnswer(413, "request body larger than " +
                                      std::to_string(options_.max_h2_body_bytes) + " bytes"));
      return;
    }
    ++in_flight_;
    auto strand = stream_.get_executor();
    net::post(workers_, [this, id, strand, request = std::move(request)]() mutable {
      HttpResponse response;
      try {
        response = session_.Handle(std::move(request));
      } catch (const std::exception& e) {
        response = ErrorAnswer(500, std::string("internal error: ") + e.what());
      }
      net::post(strand, [this, id, response = std::move(response)]() mutable {
        Answer(id, std::move(response));
        --in_flight_;
        Kick();
        drained_.cancel();
      });
    });
  }

  // Sends the answer on stream `id` (if the client did not reset it) and
  // gives the request's body back to flow control.
  void Answer(int32_t id, HttpResponse response) {
    Stream* s = Find(id);
    if (!s) return;  // closed meanwhile; its bytes were given back then
    if (s->received > 0) {
      nghttp2_session_consume(ng_, id, s->received);
      s->received = 0;
    }
    s->answer = std::move(response.body);
    const std::string status = std::to_string(response.status);
    std::vector<std::pair<std::string, std::string>> headers = {
        {":status", status}, {"content-type", response.content_type}};
    for (auto& h : response.headers) headers.push_back(h);
    std::vector<nghttp2_nv> nva;
    for (auto& [name, value] : headers)
      nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(name.data()),
                               reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(),
                               NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider provider{};
    provider.source.ptr = s;
    provider.read_callback = &Http2::ReadAnswer;
    nghttp2_submit_response(ng_, id, nva.data(), nva.size(), &provider);
  }

  static ssize_t ReadAnswer(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    size_t n = std::min(length, s->answer.size() - s->answer_offset);
    if (n) std::memcpy(buf, s->answer.data() + s->answer_offset, n);
    s->answer_offset += n;
    if (s->answer_offset == s->answer.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Http2*>(user);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      Stream& s = self->streams_[frame->hd.stream_id];
      s.request.peer = self->peer_;
    }
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<Http2*>(user);
    Stream* s = self->Find(frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > kMaxHeaderList) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->request.method = std::move(v);
    } else if (n == ":path") {
      auto q = v.find('?');
      auto path = PercentDecode(std::string_view(v).substr(0, q));
      s->request.path = path ? *path : std::string("\x01");  // refused by the router
      if (q != std::string::npos) {
        auto params = Params::ParseForm(std::string_view(v).substr(q + 1));
        if (params)
          s->request.query = std::move(*params);
        else
          s->request.path = "\x01";
      }
    } else if (!n.empty() && n[0] != ':') {
      s->request.headers.emplace(std::move(n), std::move(v));
    }
    return 0;
  }

  static int OnData(nghttp2_session* ng, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto* self = static_cast<Http2*>(user);
    Stream* s = self->Find(id);
    if (!s || s->dispatched) {
      nghttp2_session_consume(ng, id, len);
      return 0;
    }
    if (s->too_large || s->request.body.size() + len > self->options_.max_h2_body_bytes) {
      // Dropped at once (and given back): the answer will be 413.
      s->too_large = true;
      s->request.body.clear();
      s->request.body.shrink_to_fit();
      nghttp2_session_consume(ng, id, len);
      return 0;
    }
    s->request.body.insert(s->request.body.end(), data, data + len);
    s->received += len;
    return 0;
  }

  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Http2*>(user);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      Stream* s = self->Find(frame->hd.stream_id);
      if (s && !s->dispatched) self->Dispatch(frame->hd.stream_id, *s);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session* ng, int32_t id, uint32_t, void* user) {
    auto* self = static_cast<Http2*>(user);
    auto it = self->streams_.find(id);
    if (it == self->streams_.end()) return 0;
    // Body bytes of a request never answered go back to the connection.
    if (it->second.received > 0) nghttp2_session_consume_connection(ng, it->second.received);
    self->streams_.erase(it);
    return 0;
  }

  TlsStream& stream_;
  ProtocolSession& session_;
  net::thread_pool& workers_;
  const TlsServerOptions& options_;
  const std::string& peer_;
  nghttp2_session* ng_ = nullptr;
  std::map<int32_t, Stream> streams_;
  size_t in_flight_ = 0;
  bool reading_ = true;
  bool writer_done_ = false;
  bool watchdog_done_ = false;
  std::chrono::steady_clock::time_point last_activity_;
  net::steady_timer wake_;     // the writer waits on it
  net::steady_timer drained_;  // Run waits on it for handlers and the writer
  net::steady_timer watchdog_;
};

}  // namespace

net::awaitable<void> ServeHttp2(TlsStream& stream, Bytes leftover, ProtocolSession& session,
                                net::thread_pool& workers, const TlsServerOptions& options,
                                const std::string& peer) {
  Http2 h2(stream, session, workers, options, peer);
  co_await h2.Run(std::move(leftover));
}

}  // namespace chunkvault::server

// The Asio and Beast types chunkvaultd's transport shares between its
// HTTP/1.1 part (tls_server.cc) and its HTTP/2 part (h2_connection.cc).
// Only those two files include this (Beast is slow to compile).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <string>

#include "chunkvault/bytes.h"
#include "server/http_service.h"
#include "server/tls_server.h"

namespace chunkvault::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Runs `fn` on `pool` and resumes the caller on its own executor with the
// result.
template <typename F>
auto OnPool(net::thread_pool& pool, F fn) -> net::awaitable<decltype(fn())> {
  using R = decltype(fn());
  co_return co_await net::co_spawn(
      pool.get_executor(), [fn = std::move(fn)]() mutable -> net::awaitable<R> { co_return fn(); },
      net::use_awaitable);
}

// Serves PBS's HTTP/2 phase on an upgraded stream until it ends: `leftover`
// holds bytes read past the upgrade request. Returns after every request
// handler has returned; the caller then ends the session.
net::awaitable<void> ServeHttp2(TlsStream& stream, Bytes leftover, ProtocolSession& session,
                                net::thread_pool& workers, const TlsServerOptions& options,
                                const std::string& peer);

}  // namespace chunkvault::server

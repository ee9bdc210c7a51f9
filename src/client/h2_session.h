// The client side of HTTP/2 on an upgraded TLS stream (nghttp2 as the
// client session; PBS's client settings: 2^31-2 windows, 4 MiB frames).
// Internal to the client layer; connection.h is its door.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>

#include "client/connection.h"

namespace chunkvault::client {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Runs the session on a thread of its own (an io_context run by it);
// `leftover` holds bytes read past the 101 answer.
Result<std::unique_ptr<H2Session>> StartH2Session(std::unique_ptr<boost::asio::io_context> ioc,
                                                  std::unique_ptr<TlsStream> stream,
                                                  Bytes leftover);

}  // namespace chunkvault::client

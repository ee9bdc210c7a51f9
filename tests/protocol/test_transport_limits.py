# chunkvaultd's transport limits (docs/server.md, "Transport and limits")
# against clients that exceed them: each gets its 4xx, a reset stream or a
# closed connection, and the server goes on serving everyone else.
import socket
import ssl
import unittest

import h2.errors
import h2.events
import h2.settings
import pbs_wire as w
from pbs_fixture import ServerFixture, stamp


class TransportLimitsTest(ServerFixture):
    def still_serving(self):
        status, data = self.rest("GET", "/api2/json/version")
        self.assertEqual(status, 200)
        self.assertIn("version", data)

    def test_http1_headers_over_16_kib_get_431(self):
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        try:
            status, _, _ = w.http1(sock, "GET", "/api2/json/version",
                                   {"X-Filler": "a" * (20 << 10), **self.auth()})
        finally:
            sock.close()
        self.assertEqual(status, 431)
        self.still_serving()

    def test_http1_body_over_512_kib_gets_413(self):
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        try:
            status, _, _ = w.http1(sock, "POST", "/api2/json/access/ticket",
                                   {"Content-Type": "application/x-www-form-urlencoded"},
                                   b"username=" + b"a" * (600 << 10))
        finally:
            sock.close()
        self.assertEqual(status, 413)
        self.still_serving()

    def test_an_http2_body_over_16_mib_gets_413_and_the_session_goes_on(self):
        t = 1_760_000_000
        s = self.session("host", "bigbody", t)
        wid = s.call("POST", "/dynamic_index", {"archive-name": "root.pxar.didx"})
        big = b"\0" * ((16 << 20) + (8 << 10))
        status, _ = s.wait(s.start("POST", "/dynamic_chunk",
                                   {"digest": "00" * 32, "encoded-size": len(big), "size": 1,
                                    "wid": wid}, big, "application/octet-stream"))
        self.assertEqual(status, 413)
        # The same session still takes a proper chunk.
        data = b"after the big one" * 100
        b = w.blob(data)
        s.call("POST", "/dynamic_chunk", {"digest": w.digest(data), "encoded-size": len(b),
                                          "size": len(data), "wid": wid},
               body=b, content_type="application/octet-stream")
        s.close()
        self.still_serving()

    def test_more_than_200_streams_at_once_are_refused(self):
        t = 1_760_000_100
        s = self.session("host", "streams", t)
        # Our h2 would hold the 201st back itself: tell it the server allows
        # more, and open 210 requests whose bodies never end.
        s.conn.remote_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        sids = []
        for _ in range(210):
            sid = s.conn.get_next_available_stream_id()
            s.conn.send_headers(sid, [(":method", "POST"), (":scheme", "https"),
                                      (":authority", "localhost:8007"), (":path", "/blob"),
                                      ("content-type", "application/octet-stream")],
                                end_stream=False)
            s.responses[sid] = [None, {}, b"", False]
            sids.append(sid)
        s.sock.sendall(s.conn.data_to_send())
        refused = []
        while len(refused) < 10:
            data = s.sock.recv(1 << 20)
            self.assertTrue(data, "connection closed")
            for ev in s.conn.receive_data(data):
                if isinstance(ev, h2.events.StreamReset):
                    self.assertEqual(ev.error_code, h2.errors.ErrorCodes.REFUSED_STREAM)
                    refused.append(ev.stream_id)
            out = s.conn.data_to_send()
            if out:
                s.sock.sendall(out)
        self.assertEqual(sorted(refused), sids[200:])
        s.close()
        self.still_serving()

    def plain(self, request):
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        try:
            raw.sendall(request)
            got = b""
            while True:
                more = raw.recv(65536)
                if not more:
                    break
                got += more
        finally:
            raw.close()
        return got

    def test_plain_http_on_the_tls_port_is_redirected_to_https(self):
        # As PBS: GET and HEAD get 301, anything else 308, to https://<Host><target>.
        got = self.plain(b"GET /api2/json/version?x=1 HTTP/1.1\r\nHost: pbs.example:8007\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 301"), got)
        self.assertIn(b"\r\nLocation: https://pbs.example:8007/api2/json/version?x=1\r\n", got)
        self.assertNotIn(b"version\"", got)
        got = self.plain(b"POST /api2/json/access/ticket HTTP/1.1\r\nHost: pbs.example\r\n"
                         b"Content-Length: 3\r\n\r\na=b")
        self.assertTrue(got.startswith(b"HTTP/1.1 308"), got)
        # A Host no URL can hold is not echoed.
        got = self.plain(b"GET / HTTP/1.1\r\nHost: evil\"\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400"), got)
        self.assertNotIn(b"Location", got)
        # Bytes that are neither TLS nor HTTP: closed.
        self.assertFalse(self.plain(b"\x00\x01\x02\x03\x04\x05\r\n\r\n").startswith(b"HTTP/1.1 3"))
        self.still_serving()


class SlowClientsTest(ServerFixture):
    server_args = ("--request-timeout", "2")

    def closed_by_server(self, sock):
        """True once the server closed `sock` (our 60 s timeout bounds it)."""
        try:
            while True:
                if not sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def test_a_client_that_stalls_is_cut_off_and_others_are_served(self):
        silent = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        halfway = w.tls_connect(self.server.port, self.server.fingerprint)
        halfway.sendall(b"GET /api2/json/version HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        try:
            self.assertTrue(self.closed_by_server(silent))
            self.assertTrue(self.closed_by_server(halfway))
        finally:
            silent.close()
            halfway.close()
        status, data = self.rest("GET", "/api2/json/version")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()

# A PBS client at the wire level, for the protocol tests: TLS with a
# pinned fingerprint, HTTP/1.1 requests and the upgrade, then HTTP/2 (the
# h2 package from Debian's python3-h2) on the same stream, sending the
# requests of ../shared/PROTOCOL.md exactly as PBS's client and PVE's QEMU
# library do. Also DataBlob and index checksums, to build what they send.
import hashlib
import json
import socket
import ssl
import struct
import subprocess
import urllib.parse
import zlib

import h2.config
import h2.connection
import h2.events
import h2.settings

UNCOMPRESSED_MAGIC = bytes([0x42, 0xAB, 0x38, 0x07, 0xBE, 0x83, 0x70, 0xA1])
FIXED_CHUNK = 4 << 20


def blob(data: bytes) -> bytes:
    """An uncompressed DataBlob, as PBS encodes data that does not shrink."""
    return UNCOMPRESSED_MAGIC + struct.pack("<I", zlib.crc32(data)) + data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dynamic_csum(chunks):
    """PBS's dynamic index checksum: sha256 over le64(end) || digest."""
    h, end = hashlib.sha256(), 0
    for data in chunks:
        end += len(data)
        h.update(struct.pack("<Q", end))
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def fixed_csum(digests_hex):
    h = hashlib.sha256()
    for d in digests_hex:
        h.update(bytes.fromhex(d))
    return h.hexdigest()


def manifest_blob(backup_type, backup_id, backup_time, files):
    """index.json.blob as the client writes it; files: (name, size, csum)."""
    m = {
        "backup-type": backup_type,
        "backup-id": backup_id,
        "backup-time": backup_time,
        "files": [{"filename": n, "crypt-mode": "none", "size": s, "csum": c} for n, s, c in files],
        "unprotected": {},
        "signature": None,
    }
    return blob(json.dumps(m, indent=2).encode())


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


def tls_connect(port, fingerprint=None, host="127.0.0.1"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, port), timeout=120)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = ctx.wrap_socket(raw)
    if fingerprint is not None:
        der = sock.getpeercert(binary_form=True)
        seen = ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest())
        if seen != fingerprint:
            sock.close()
            raise ssl.SSLError(f"fingerprint mismatch: {seen}")
    return sock


def _read_head(sock, buffered=b""):
    data = buffered
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("connection closed before the answer's headers")
        data += more
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def _read_body(sock, rest, length):
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            break
        rest += more
    return rest[:length]


def http1(sock, method, path, headers=None, body=b""):
    """One HTTP/1.1 request on `sock`; returns (status, headers, body)."""
    headers = dict(headers or {})
    headers.setdefault("Host", "localhost:8007")
    headers.setdefault("User-Agent", "proxmox-backup-client/1.0")
    if body or method in ("POST", "PUT"):
        headers["Content-Length"] = str(len(body))
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(req.encode() + b"\r\n" + body)
    status, rh, rest = _read_head(sock)
    return status, rh, _read_body(sock, rest, int(rh.get("content-length", "0")))


def token_header(tokenid, secret):
    return {"Authorization": f"PBSAPIToken {tokenid}:{secret}"}


class H2Session:
    """The HTTP/2 phase after a 101: requests as pbs-client sends them."""

    def __init__(self, sock, leftover):
        self.sock = sock
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 2,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: 4 << 20,
            },
        )
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(2**31 - 2 - 65535)
        self.sock.sendall(self.conn.data_to_send())
        self.responses = {}  # stream id -> [status, headers, body, ended]
        self.pending_body = {}  # stream id -> remaining bytes to send
        if leftover:
            self._events(self.conn.receive_data(leftover))

    def start(self, method, path, query=None, body=None, content_type="application/x-www-form-urlencoded"):
        """Sends a request without waiting for its answer; returns the stream id."""
        if query:
            path += "?" + urllib.parse.urlencode(query)
        sid = self.conn.get_next_available_stream_id()
        headers = [
            (":method", method),
            (":scheme", "https"),
            (":authority", "localhost:8007"),
            (":path", path),
            ("user-agent", "proxmox-backup-client/1.0"),
            ("content-type", content_type),
        ]
        self.conn.send_headers(sid, headers, end_stream=body is None)
        self.responses[sid] = [None, {}, b"", False]
        if body is not None:
            self.pending_body[sid] = memoryview(body)
        self._flush()
        return sid

    def _flush(self):
        # Send what flow control allows of pending bodies.
        for sid in list(self.pending_body):
            data = self.pending_body[sid]
            while True:
                window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                if window <= 0 and len(data) > 0:
                    break
                piece = data[:window]
                data = data[len(piece):]
                self.conn.send_data(sid, bytes(piece), end_stream=len(data) == 0)
                if len(data) == 0:
                    del self.pending_body[sid]
                    break
            if sid in self.pending_body:
                self.pending_body[sid] = data
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def _events(self, events):
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                r = self.responses[ev.stream_id]
                r[1] = dict(ev.headers)
                r[0] = int(r[1][":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.responses[ev.stream_id][2] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.responses[ev.stream_id][3] = True
            elif isinstance(ev, h2.events.StreamReset):
                r = self.responses.get(ev.stream_id)
                if r is not None:
                    r[0] = r[0] or 0
                    r[3] = True
                self.pending_body.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise ConnectionError(f"GOAWAY: {ev.error_code}")

    def wait(self, sid):
        """The answer of stream `sid`: (status, body)."""
        while not self.responses[sid][3]:
            self._flush()
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("connection closed")
            self._events(self.conn.receive_data(data))
            self._flush()
        status, _, body, _ = self.responses.pop(sid)
        return status, body

    def call(self, method, path, query=None, body=None, content_type="application/x-www-form-urlencoded"):
        """A request and its answer; JSON answers give their data, raw ones bytes."""
        status, body = self.wait(self.start(method, path, query, body, content_type))
        if status < 200 or status >= 300:
            raise HttpError(status, body.decode(errors="replace"))
        if not body:
            return None
        try:
            return json.loads(body)["data"]
        except (ValueError, KeyError):
            return body

    def close(self):
        self.sock.close()


def upgrade(sock, path, query, auth_headers, protocol):
    """GET path?query with Upgrade; returns an H2Session (or raises HttpError)."""
    headers = {
        "Host": "localhost:8007",
        "User-Agent": "proxmox-backup-client/1.0",
        "Content-Type": "application/x-www-form-urlencoded",
        "Connection": "upgrade",
        "UPGRADE": protocol,
    }
    headers.update(auth_headers)
    req = f"GET {path}?{urllib.parse.urlencode(query)} HTTP/1.1\r\n"
    req += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(req.encode())
    status, rh, rest = _read_head(sock)
    if status != 101:
        body = _read_body(sock, rest, int(rh.get("content-length", "0")))
        sock.close()
        raise HttpError(status, body.decode(errors="replace"))
    return H2Session(sock, rest)


class Server:
    """chunkvaultd on 127.0.0.1 with a fresh configuration directory."""

    def __init__(self, chunkvaultd, config_dir, extra_args=()):
        self.chunkvaultd = chunkvaultd
        self.config_dir = config_dir
        self.proc = subprocess.Popen(
            [chunkvaultd, "--config-dir", config_dir, "--listen", "127.0.0.1:0", *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("chunkvaultd did not start: " + line + self.proc.stderr.read())
        words = line.split()
        self.port = int(words[words.index("port") + 1].rstrip(","))
        self.fingerprint = words[-1]

    def stop(self, sig=15):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, err

    def admin(self, *args, env=None):
        r = subprocess.run([self.chunkvaultd, *args, "--config-dir", self.config_dir],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"chunkvaultd {' '.join(args)}: {r.stderr}")
        return r.stdout

# The server the protocol tests talk to: a fresh datastore and
# configuration (users alice@pbs and bob@pbs, a token each, the backup role
# for all four on the store; carol@pbs and carol@pbs!reader with the reader
# role; dave@pbs and dave@pbs!admin with the admin role on /datastore), one
# chunkvaultd over TLS for the class, and helpers to open sessions and read
# what the store holds with the chunkvault CLI.
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import pbs_wire as w

CHUNKVAULT = os.environ["CHUNKVAULT"]
CHUNKVAULTD = os.environ["CHUNKVAULTD"]
BACKUP_PROTOCOL = "proxmox-backup-protocol-v1"
READER_PROTOCOL = "proxmox-backup-reader-protocol-v1"


def run(*args, check=True, env=None):
    r = subprocess.run(args, capture_output=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{args}: {r.stderr.decode()}")
    return r


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ServerFixture(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        base = os.environ.get("CV_TEST_TMPDIR") or None
        cls.tmp = tempfile.mkdtemp(prefix="cv-proto-", dir=base)
        cls.store = os.path.join(cls.tmp, "store1")
        run(CHUNKVAULT, "init", "--store", cls.store)
        cfg = os.path.join(cls.tmp, "etc")
        env = dict(os.environ, CHUNKVAULT_PASSWORD="alice's password")
        run(CHUNKVAULTD, "datastore", "add", "store1", cls.store, "--config-dir", cfg)
        for user in ("alice@pbs", "bob@pbs", "carol@pbs", "dave@pbs"):
            run(CHUNKVAULTD, "user", "add", user, "--config-dir", cfg, env=env)
        cls.tokens = {}
        for tok in ("alice@pbs!host1", "bob@pbs!host2", "carol@pbs!reader", "dave@pbs!admin"):
            out = run(CHUNKVAULTD, "token", "add", tok, "--json", "--config-dir", cfg).stdout
            cls.tokens[tok] = json.loads(out)["value"]
        grants = [(who, "backup") for who in ("alice@pbs", "alice@pbs!host1", "bob@pbs", "bob@pbs!host2")]
        grants += [("carol@pbs", "reader"), ("carol@pbs!reader", "reader")]
        for who, role in grants:
            run(CHUNKVAULTD, "acl", "set", "/datastore/store1", role, "--auth-id", who,
                "--config-dir", cfg)
        for who in ("dave@pbs", "dave@pbs!admin"):
            run(CHUNKVAULTD, "acl", "set", "/datastore", "admin", "--auth-id", who,
                "--config-dir", cfg)
        cls.config_dir = cfg
        cls.server = w.Server(CHUNKVAULTD, cfg, cls.server_args)

    @classmethod
    def tearDownClass(cls):
        code, err = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if os.environ.get("CV_VERBOSE"):
            print(err)
        assert code == 0, err

    def auth(self, token="alice@pbs!host1"):
        return w.token_header(token, self.tokens[token])

    def rest(self, method, path, token="alice@pbs!host1", headers=None, body=b""):
        """One REST call on a connection of its own: (status, data or text)."""
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        try:
            h = dict(self.auth(token)) if token else {}
            h.update(headers or {})
            status, _, raw = w.http1(sock, method, path, h, body)
        finally:
            sock.close()
        try:
            return status, json.loads(raw)["data"]
        except (ValueError, KeyError):
            return status, raw.decode(errors="replace")

    def session(self, backup_type, backup_id, backup_time, token="alice@pbs!host1", debug="true"):
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        query = {"backup-type": backup_type, "backup-id": backup_id, "backup-time": backup_time,
                 "store": "store1", "debug": debug, "benchmark": "false"}
        return w.upgrade(sock, "/api2/json/backup", query, self.auth(token), BACKUP_PROTOCOL)

    def reader(self, backup_type, backup_id, backup_time, token="alice@pbs!host1"):
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        query = {"backup-type": backup_type, "backup-id": backup_id, "backup-time": backup_time,
                 "store": "store1", "debug": "true"}
        return w.upgrade(sock, "/api2/json/reader", query, self.auth(token), READER_PROTOCOL)

    def cat(self, snapshot, archive):
        return run(CHUNKVAULT, "cat", "--store", self.store, snapshot, archive).stdout

    def snapshot_dir(self, group, backup_time):
        return os.path.join(self.store, group, stamp(backup_time))

    def wait_removed(self, path):
        # The server notices the dropped connection on its own; wait for the
        # condition (bounded), never for a fixed time.
        deadline = time.monotonic() + 60
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not os.path.exists(path)

    def backup_archive(self, backup_type, backup_id, t, chunks, archive="root.pxar.didx",
                       token="alice@pbs!host1"):
        """A whole backup of one dynamic archive made of `chunks`, as pbs-client does it."""
        s = self.session(backup_type, backup_id, t, token=token)
        wid = s.call("POST", "/dynamic_index", {"archive-name": archive})
        uploaded = set()
        offsets, off = [], 0
        for data in chunks:
            d = w.digest(data)
            if d not in uploaded:
                uploaded.add(d)
                b = w.blob(data)
                s.call("POST", "/dynamic_chunk", {"digest": d, "encoded-size": len(b),
                                                  "size": len(data), "wid": wid},
                       body=b, content_type="application/octet-stream")
            offsets.append(off)
            off += len(data)
        s.call("PUT", "/dynamic_index", body=json.dumps(
            {"wid": wid, "digest-list": [w.digest(c) for c in chunks], "offset-list": offsets}).encode(),
            content_type="application/json")
        csum = w.dynamic_csum(chunks)
        s.call("POST", "/dynamic_close", {"chunk-count": len(chunks), "csum": csum, "size": off,
                                          "wid": wid})
        man = w.manifest_blob(backup_type, backup_id, t, [(archive, off, csum)])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        s.call("POST", "/finish")
        s.close()
        return csum

# chunkvaultd's reader protocol (../shared/PROTOCOL.md §4.1) at the HTTP/2
# level, in the order proxmox-backup-client restores: the manifest, an
# index, then its chunks; with PBS's rules on who may read what.
import hashlib
import json
import os
import struct
import unittest
import zlib

import pbs_wire as w
from pbs_fixture import ServerFixture


def decode_blob(raw):
    """The data of an uncompressed blob, or of a zstd one via the CLI-free
    check that its CRC holds (the tests only upload uncompressed chunks)."""
    magic, crc = raw[:8], struct.unpack("<I", raw[8:12])[0]
    assert zlib.crc32(raw[12:]) == crc
    return magic, raw[12:]


class ReaderProtocolTest(ServerFixture):
    def test_restore_order_and_rules(self):
        t = 1_710_000_000
        chunks = [os.urandom(30_000), os.urandom(20_000), b"\0" * 10_000]
        csum = self.backup_archive("host", "restore", t, chunks)

        r = self.reader("host", "restore", t)
        manifest_raw = r.call("GET", "/download", {"file-name": "index.json.blob"})
        self.assertIsInstance(manifest_raw, bytes)
        # A chunk before its index was downloaded: not allowed (401), as PBS.
        status, body = r.wait(r.start("GET", "/chunk", {"digest": w.digest(chunks[0])}))
        self.assertEqual(status, 401)
        self.assertIn(b"not allowed", body)
        index = r.call("GET", "/download", {"file-name": "root.pxar.didx"})
        # The index is PBS's: 4096-byte header, then (end, digest) entries.
        entries = index[4096:]
        self.assertEqual(len(entries), 40 * len(chunks))
        h = hashlib.sha256()
        restored = b""
        for i in range(len(chunks)):
            end = struct.unpack("<Q", entries[i * 40:i * 40 + 8])[0]
            digest = entries[i * 40 + 8:i * 40 + 40].hex()
            h.update(entries[i * 40:i * 40 + 40])
            raw = r.call("GET", "/chunk", {"digest": digest})
            _, data = decode_blob(raw)
            self.assertEqual(w.digest(data), digest)
            restored += data
            self.assertEqual(len(restored), end)
        self.assertEqual(h.hexdigest(), csum)
        self.assertEqual(restored, b"".join(chunks))
        # Missing files are 404; names with a path are refused.
        for name, code in (("nothing.blob", 404), ("../owner", 400), ("a/b.blob", 400)):
            status, _ = r.wait(r.start("GET", "/download", {"file-name": name}))
            self.assertEqual(status, code, name)
        self.assertEqual(len(r.call("GET", "/speedtest")), 1 << 20)
        r.close()

        # bob (backup role, not the owner) may not read alice's group; carol
        # (reader role) may.
        with self.assertRaises(w.HttpError) as e:
            self.reader("host", "restore", t, token="bob@pbs!host2")
        self.assertEqual(e.exception.status, 403)
        r = self.reader("host", "restore", t, token="carol@pbs!reader")
        self.assertEqual(r.call("GET", "/download", {"file-name": "root.pxar.didx"}), index)
        r.close()
        # carol may not write.
        with self.assertRaises(w.HttpError) as e:
            self.session("host", "carol", t, token="carol@pbs!reader")
        self.assertEqual(e.exception.status, 403)
        # A snapshot that does not exist is 404.
        with self.assertRaises(w.HttpError) as e:
            self.reader("host", "restore", t + 1)
        self.assertEqual(e.exception.status, 404)

    def test_a_reader_holds_its_snapshot_against_forget(self):
        t = 1_710_100_000
        self.backup_archive("host", "held", t, [b"held" * 1000])
        r = self.reader("host", "held", t)
        r.call("GET", "/download", {"file-name": "index.json.blob"})
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        query = f"?backup-type=host&backup-id=held&backup-time={t}"
        # alice has only the backup role: forget needs Datastore.Modify or
        # Prune, so 403; the lock is shown with the CLI instead.
        status, _, body = w.http1(sock, "DELETE", "/api2/json/admin/datastore/store1/snapshots" + query,
                                  self.auth())
        self.assertEqual(status, 403, body)
        sock.close()
        from pbs_fixture import CHUNKVAULT, run, stamp
        busy = run(CHUNKVAULT, "forget", "--store", self.store, f"host/held/{stamp(t)}", check=False)
        self.assertNotEqual(busy.returncode, 0)
        self.assertIn(b"in use", busy.stderr)
        r.close()


if __name__ == "__main__":
    unittest.main()

# chunkvaultd's backup protocol driven at the HTTP/2 level with the exact
# requests of ../shared/PROTOCOL.md §3.1 (proxmox-backup-client) and §3.2
# (PVE's QEMU library), and with hostile ones. Each test asserts on what
# the server answered and on the datastore it wrote, read back with the
# chunkvault CLI.
import json
import os
import time
import unittest

import pbs_wire as w
from pbs_fixture import BACKUP_PROTOCOL, CHUNKVAULT, ServerFixture, run, stamp


class BackupProtocolTest(ServerFixture):
    # proxmox-backup-client, PROTOCOL.md §3.1: a directory archive (two
    # dynamic writers interleaved, as the catalog runs beside it), a
    # config blob, the manifest, finish; then a second backup that re-uses
    # the first one's chunks through `previous`.
    def test_client_order_then_incremental(self):
        t1 = 1_700_000_000
        s = self.session("host", "client", t1)
        self.assertIsNone(s.call("GET", "/previous_backup_time"))
        chunks = [os.urandom(70_000) for _ in range(5)] + [b"\0" * 70_000, b"\0" * 70_000]
        wid = s.call("POST", "/dynamic_index", {"archive-name": "root.pxar.didx"})
        cat_wid = s.call("POST", "/dynamic_index", {"archive-name": "catalog.pcat1.didx"})
        self.assertNotEqual(wid, cat_wid)
        # Pipelined uploads, as pbs-client sends them; answers are digests.
        sids = []
        seen = set()
        for data in chunks:
            d = w.digest(data)
            if d in seen:
                continue
            seen.add(d)
            b = w.blob(data)
            sids.append((d, s.start("POST", "/dynamic_chunk",
                                    {"digest": d, "encoded-size": len(b), "size": len(data), "wid": wid},
                                    body=b, content_type="application/octet-stream")))
        for d, sid in sids:
            status, body = s.wait(sid)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["data"], d)
        catalog = b"catalog bytes"
        cb = w.blob(catalog)
        s.call("POST", "/dynamic_chunk", {"digest": w.digest(catalog), "encoded-size": len(cb),
                                          "size": len(catalog), "wid": cat_wid},
               body=cb, content_type="application/octet-stream")
        offsets, off = [], 0
        for data in chunks:
            offsets.append(off)
            off += len(data)
        digests = [w.digest(c) for c in chunks]
        # Appends in two lists, as the client's merge emits them.
        for lo, hi in ((0, 4), (4, len(chunks))):
            s.call("PUT", "/dynamic_index",
                   body=json.dumps({"wid": wid, "digest-list": digests[lo:hi],
                                    "offset-list": offsets[lo:hi]}).encode(),
                   content_type="application/json")
        s.call("PUT", "/dynamic_index",
               body=json.dumps({"wid": cat_wid, "digest-list": [w.digest(catalog)],
                                "offset-list": [0]}).encode(),
               content_type="application/json")
        csum = w.dynamic_csum(chunks)
        s.call("POST", "/dynamic_close", {"chunk-count": len(chunks), "csum": csum, "size": off, "wid": wid})
        cat_csum = w.dynamic_csum([catalog])
        s.call("POST", "/dynamic_close", {"chunk-count": 1, "csum": cat_csum, "size": len(catalog),
                                          "wid": cat_wid})
        conf = w.blob(b"config file")
        s.call("POST", "/blob", {"encoded-size": len(conf), "file-name": "host.conf.blob"},
               body=conf, content_type="application/octet-stream")
        man = w.manifest_blob("host", "client", t1, [
            ("catalog.pcat1.didx", len(catalog), cat_csum),
            ("host.conf.blob", len(conf), w.digest(conf)),
            ("root.pxar.didx", off, csum)])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        s.call("POST", "/finish")
        s.close()

        snap = "host/client/" + stamp(t1)
        self.assertEqual(self.cat(snap, "root.pxar"), b"".join(chunks))
        self.assertEqual(self.cat(snap, "host.conf.blob"), b"config file")
        run(CHUNKVAULT, "verify", "--store", self.store, snap)
        manifest = json.loads(self.cat(snap, "index.json.blob"))
        stats = manifest["unprotected"]["chunk_upload_stats"]
        self.assertEqual(stats["count"], 7)  # 6 distinct data chunks + the catalog's
        self.assertEqual(stats["duplicates"], 0)

        # The second backup: previous makes the old chunks known; only a new
        # one is uploaded; appending the old digests needs no upload.
        t2 = t1 + 3600
        s = self.session("host", "client", t2)
        self.assertEqual(s.call("GET", "/previous_backup_time"), t1)
        prev_manifest = s.call("GET", "/previous", {"archive-name": "index.json.blob"})
        self.assertIsInstance(prev_manifest, bytes)  # the stored blob, as it is
        self.assertGreater(len(prev_manifest), 12)
        wid = s.call("POST", "/dynamic_index", {"archive-name": "root.pxar.didx"})
        # Before `previous` of the index, its digests are unknown.
        with self.assertRaises(w.HttpError) as e:
            s.call("PUT", "/dynamic_index", body=json.dumps(
                {"wid": wid, "digest-list": [digests[0]], "offset-list": [0]}).encode(),
                content_type="application/json")
        self.assertEqual(e.exception.status, 400)
        self.assertIn("no such chunk", e.exception.body)
        raw_index = s.call("GET", "/previous", {"archive-name": "root.pxar.didx"})
        self.assertIsInstance(raw_index, bytes)
        new = os.urandom(1000)
        nb = w.blob(new)
        s.call("POST", "/dynamic_chunk", {"digest": w.digest(new), "encoded-size": len(nb),
                                          "size": len(new), "wid": wid},
               body=nb, content_type="application/octet-stream")
        chunks2 = chunks[:3] + [new]
        offs, off = [], 0
        for c in chunks2:
            offs.append(off)
            off += len(c)
        s.call("PUT", "/dynamic_index", body=json.dumps(
            {"wid": wid, "digest-list": [w.digest(c) for c in chunks2], "offset-list": offs}).encode(),
            content_type="application/json")
        csum2 = w.dynamic_csum(chunks2)
        s.call("POST", "/dynamic_close", {"chunk-count": 4, "csum": csum2, "size": off, "wid": wid})
        man = w.manifest_blob("host", "client", t2, [("root.pxar.didx", off, csum2)])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        s.call("POST", "/finish")
        s.close()
        snap2 = "host/client/" + stamp(t2)
        self.assertEqual(self.cat(snap2, "root.pxar"), b"".join(chunks2))
        run(CHUNKVAULT, "verify", "--store", self.store, snap2)

    # PVE's QEMU library, PROTOCOL.md §3.2: no previous_backup_time, the
    # previous manifest asked for directly (400 without one), config
    # blobs, a fixed index with its size, the zero chunk first, data
    # chunks out of order, appends of 128 entries out of order, then
    # close with the whole digest array's checksum.
    def test_pve_qemu_order(self):
        t = 1_700_100_000
        s = self.session("vm", "100", t, debug="false")
        with self.assertRaises(w.HttpError) as e:
            s.call("GET", "/previous", {"archive-name": "index.json.blob"})
        self.assertEqual(e.exception.status, 400)
        self.assertIn("no valid previous backup", e.exception.body)
        conf = w.blob(b"memory: 512\n")
        s.call("POST", "/blob", {"encoded-size": len(conf), "file-name": "qemu-server.conf.blob"},
               body=conf, content_type="application/octet-stream")
        slots = 131  # more than one batch of 128
        size = (slots - 1) * w.FIXED_CHUNK + 12345  # the last chunk is short
        wid = s.call("POST", "/fixed_index", {"archive-name": "drive-scsi0.img.fidx", "size": size})
        zero = b"\0" * w.FIXED_CHUNK
        zb = w.blob(zero)
        s.call("POST", "/fixed_chunk", {"digest": w.digest(zero), "encoded-size": len(zb),
                                        "size": len(zero), "wid": wid},
               body=zb, content_type="application/octet-stream")
        data_slots = {3: os.urandom(w.FIXED_CHUNK), 140 % slots: os.urandom(w.FIXED_CHUNK),
                      slots - 1: os.urandom(12345)}
        # Data chunks in any order; their answers awaited in order.
        order = sorted(data_slots, reverse=True)
        sids = []
        for slot in order:
            data = data_slots[slot]
            b = w.blob(data)
            sids.append(s.start("POST", "/fixed_chunk", {"digest": w.digest(data),
                                                         "encoded-size": len(b), "size": len(data),
                                                         "wid": wid},
                                body=b, content_type="application/octet-stream"))
        for sid in sids:
            status, body = s.wait(sid)
            self.assertEqual(status, 200, body)
        digests = [w.digest(data_slots.get(i, zero)) for i in range(slots)]
        entries = list(range(slots))
        entries.reverse()  # out of order
        for lo in range(0, slots, 128):
            batch = entries[lo:lo + 128]
            s.call("PUT", "/fixed_index", body=json.dumps(
                {"wid": wid, "digest-list": [digests[i] for i in batch],
                 "offset-list": [i * w.FIXED_CHUNK for i in batch]}).encode(),
                content_type="application/json")
        csum = w.fixed_csum(digests)
        s.call("POST", "/fixed_close", {"chunk-count": slots, "csum": csum, "size": size, "wid": wid})
        man = w.manifest_blob("vm", "100", t, [("drive-scsi0.img.fidx", size, csum),
                                               ("qemu-server.conf.blob", len(conf), w.digest(conf))])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        s.call("POST", "/finish")
        s.close()
        snap = "vm/100/" + stamp(t)
        image = self.cat(snap, "drive-scsi0.img")
        self.assertEqual(len(image), size)
        for slot, data in data_slots.items():
            self.assertEqual(image[slot * w.FIXED_CHUNK:slot * w.FIXED_CHUNK + len(data)], data)
        self.assertEqual(image[0:w.FIXED_CHUNK], zero)
        run(CHUNKVAULT, "verify", "--store", self.store, snap)

    # What a hostile client sends gets a 4xx naming what is wrong, and the
    # session stays usable; a session dropped before finish leaves no
    # snapshot, and the next backup of the group works.
    def test_hostile_requests_and_an_abandoned_session(self):
        t = 1_700_200_000
        s = self.session("host", "hostile", t)
        wid = s.call("POST", "/dynamic_index", {"archive-name": "root.pxar.didx"})
        data = os.urandom(5000)
        good = w.blob(data)

        def upload(query, body):
            q = {"digest": w.digest(data), "encoded-size": len(body), "size": len(data), "wid": wid}
            q.update(query)
            return s.wait(s.start("POST", "/dynamic_chunk", q, body=body,
                                  content_type="application/octet-stream"))

        cases = [
            ({"digest": "00" * 32}, good, "digest"),                      # wrong digest
            ({"size": len(data) + 1}, good, "announced"),                 # wrong size
            ({"encoded-size": len(good) - 1}, good, "larger than announced"),
            ({"encoded-size": len(good) + 1}, good, "unexpected size"),
            ({}, good[:8] + b"\0\0\0\0" + good[12:], "CRC"),               # bad CRC
            ({}, b"\x01" * len(good), "magic"),                           # not a blob
            ({"wid": 7}, good, "not registered"),                         # unknown writer
            ({"size": 17 << 20}, good, "size"),                           # over 16 MiB
            ({"digest": "xyz"}, good, "digest"),
        ]
        for query, body, word in cases:
            status, answer = upload(query, body)
            self.assertEqual(status, 400, (query, answer))
            self.assertIn(word.lower(), answer.decode().lower(), (query, answer))
        # Path tricks and unknown calls.
        for path in ("/../finish", "/.hidden", "/no_such_call"):
            status, _ = s.wait(s.start("GET", path))
            self.assertIn(status, (400, 404), path)
        # The session is still good: a correct upload, then wrong appends
        # and closes.
        self.assertEqual(upload({}, good)[0], 200)
        bad_appends = [
            ({"wid": wid, "digest-list": ["11" * 32], "offset-list": [0]}, "no such chunk"),
            ({"wid": wid, "digest-list": [w.digest(data)], "offset-list": [5]}, "offset"),
            ({"wid": wid, "digest-list": [w.digest(data)], "offset-list": []}, "wrong length"),
            ({"wid": 99, "digest-list": [], "offset-list": []}, "not registered"),
        ]
        for body, word in bad_appends:
            with self.assertRaises(w.HttpError) as e:
                s.call("PUT", "/dynamic_index", body=json.dumps(body).encode(),
                       content_type="application/json")
            self.assertEqual(e.exception.status, 400)
            self.assertIn(word, e.exception.body)
        s.call("PUT", "/dynamic_index", body=json.dumps(
            {"wid": wid, "digest-list": [w.digest(data)], "offset-list": [0]}).encode(),
            content_type="application/json")
        csum = w.dynamic_csum([data])
        for query, word in (({"chunk-count": 2}, "chunk count"), ({"size": 1}, "file size"),
                            ({"csum": "00" * 32}, "checksum")):
            q = {"chunk-count": 1, "csum": csum, "size": len(data), "wid": wid}
            q.update(query)
            with self.assertRaises(w.HttpError) as e:
                s.call("POST", "/dynamic_close", q)
            self.assertIn(word, e.exception.body)
        with self.assertRaises(w.HttpError) as e:
            s.call("POST", "/finish")
        self.assertIn("open index writer", e.exception.body)
        s.call("POST", "/dynamic_close", {"chunk-count": 1, "csum": csum, "size": len(data), "wid": wid})
        with self.assertRaises(w.HttpError) as e:
            s.call("POST", "/finish")
        self.assertIn("index.json.blob", e.exception.body)
        # A manifest listing a file that was not uploaded is refused.
        man = w.manifest_blob("host", "hostile", t, [("root.pxar.didx", len(data), csum),
                                                     ("other.pxar.didx", 1, csum)])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        with self.assertRaises(w.HttpError) as e:
            s.call("POST", "/finish")
        self.assertIn("other.pxar.didx", e.exception.body)
        # Dropped without finish: the snapshot goes.
        snap_dir = self.snapshot_dir("host/hostile", t)
        self.assertTrue(os.path.isdir(snap_dir))
        s.close()
        self.assertTrue(self.wait_removed(snap_dir), "an abandoned session left its snapshot")
        # And the group takes the next backup.
        s = self.session("host", "hostile", t + 1)
        self.assertIsNone(s.call("GET", "/previous_backup_time"))
        s.close()

    def test_owner_and_permission_checks(self):
        t = 1_700_300_000
        # alice's token creates the group...
        self.backup_archive("host", "owned", t, [b"x" * 100], archive="a.pxar.didx")
        # ...bob's token may neither add to it nor see it.
        with self.assertRaises(w.HttpError) as e:
            self.session("host", "owned", t + 10, token="bob@pbs!host2")
        self.assertEqual(e.exception.status, 403)
        self.assertIn("owner", e.exception.body)
        sock = w.tls_connect(self.server.port, self.server.fingerprint)
        status, _, body = w.http1(sock, "GET", "/api2/json/admin/datastore/store1/snapshots",
                                  self.auth("bob@pbs!host2"))
        self.assertEqual(status, 200)
        self.assertNotIn("owned", body.decode())
        status, _, body = w.http1(sock, "GET", "/api2/json/admin/datastore/store1/snapshots",
                                  self.auth("alice@pbs!host1"))
        self.assertIn('"backup-id":"owned"', body.decode())
        sock.close()
        # A wrong secret is 401; an upgrade to an unknown protocol is 400.
        with self.assertRaises(w.HttpError) as e:
            sock = w.tls_connect(self.server.port)
            w.upgrade(sock, "/api2/json/backup", {"backup-type": "host", "backup-id": "x",
                                                   "backup-time": t, "store": "store1"},
                      w.token_header("alice@pbs!host1", "wrong"), BACKUP_PROTOCOL)
        self.assertEqual(e.exception.status, 401)
        with self.assertRaises(w.HttpError) as e:
            sock = w.tls_connect(self.server.port)
            w.upgrade(sock, "/api2/json/backup", {"backup-type": "host", "backup-id": "x",
                                                   "backup-time": t, "store": "store1"},
                      self.auth(), "proxmox-backup-protocol-v0")
        self.assertEqual(e.exception.status, 400)
        # Same group twice at once: the second is refused.
        s = self.session("host", "busy", t)
        with self.assertRaises(w.HttpError) as e:
            self.session("host", "busy", t + 1)
        self.assertIn("lock", e.exception.body)
        s.close()


    # Sixteen clients back up sixteen groups at once into the one store
    # (one shared cache and chunk store in the one server process); every
    # backup finishes, and every snapshot verifies.
    def test_sixteen_clients_at_once(self):
        import threading
        t = 1_700_400_000
        shared = os.urandom(50_000)  # every client has this chunk too
        errors = []

        def client(n):
            try:
                chunks = [os.urandom(40_000 + n), shared, os.urandom(10_000)]
                self.backup_archive("host", f"client{n:02d}", t, chunks)
            except Exception as e:  # reported below, with the client's number
                errors.append(f"client {n}: {e!r}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        for n in range(16):
            run(CHUNKVAULT, "verify", "--store", self.store, f"host/client{n:02d}/{stamp(t)}")


if __name__ == "__main__":
    unittest.main()

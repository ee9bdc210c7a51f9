# chunkvaultd's stop (SIGTERM): no new connections, running sessions get
# the grace period to finish, those still unfinished then are aborted and
# leave no snapshot, and the server exits 0 having logged each session.
import json
import os
import socket
import unittest

import pbs_wire as w
from pbs_fixture import ServerFixture, stamp


class ServerLifecycleTest(ServerFixture):
    server_args = ("--grace-period", "3")

    @classmethod
    def tearDownClass(cls):
        # The test stopped the server itself.
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_sigterm_lets_sessions_finish_then_aborts_the_rest(self):
        t = 1_740_000_000
        finishing = self.session("host", "finishing", t)
        abandoned = self.session("host", "abandoned", t)
        data = b"data" * 1000
        b = w.blob(data)
        wids = {}
        for name, s in (("finishing", finishing), ("abandoned", abandoned)):
            wids[name] = s.call("POST", "/dynamic_index", {"archive-name": "root.pxar.didx"})
            s.call("POST", "/dynamic_chunk", {"digest": w.digest(data), "encoded-size": len(b),
                                              "size": len(data), "wid": wids[name]},
                   body=b, content_type="application/octet-stream")
        self.server.proc.send_signal(15)
        # The listener closes at once; the server says so.
        line = self.server.proc.stderr.readline()
        self.assertIn("stopping (SIGTERM)", line)
        line = self.server.proc.stderr.readline()
        self.assertIn("listener closed", line)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.server.port), timeout=10).close()
        # A running session may still finish.
        s, wid = finishing, wids["finishing"]
        s.call("PUT", "/dynamic_index", body=json.dumps(
            {"wid": wid, "digest-list": [w.digest(data)], "offset-list": [0]}).encode(),
            content_type="application/json")
        csum = w.dynamic_csum([data])
        s.call("POST", "/dynamic_close", {"chunk-count": 1, "csum": csum, "size": len(data), "wid": wid})
        man = w.manifest_blob("host", "finishing", t, [("root.pxar.didx", len(data), csum)])
        s.call("POST", "/blob", {"encoded-size": len(man), "file-name": "index.json.blob"},
               body=man, content_type="application/octet-stream")
        s.call("POST", "/finish")
        s.close()
        # The abandoned one is cut off after the grace period.
        out, err = self.server.proc.communicate(timeout=120)
        self.assertEqual(self.server.proc.returncode, 0, err)
        self.assertIn("host/finishing", err)
        self.assertIn("aborted", err)
        self.assertIn("stopped", err)
        self.assertTrue(os.path.exists(os.path.join(self.snapshot_dir("host/finishing", t),
                                                    "index.json.blob")))
        self.assertFalse(os.path.exists(self.snapshot_dir("host/abandoned", t)))
        with self.assertRaises((ConnectionError, OSError, w.HttpError)):
            abandoned.call("POST", "/finish")
        abandoned.close()


if __name__ == "__main__":
    unittest.main()

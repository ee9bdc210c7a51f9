# chunkvaultd's HTTP/1.1 API as PBS's client calls it (../shared/PROTOCOL.md
# §2 and §4.2): tickets and API tokens, the admin/datastore calls, GC and
# verify tasks, and /metrics in Prometheus's format.
import json
import time
import unittest

import pbs_wire as w
from pbs_fixture import ServerFixture, run, CHUNKVAULTD

API = "/api2/json/admin/datastore/store1"


def wait_task(fixture, upid, token):
    # Until the task stops (bounded): a condition, not a fixed time.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, data = fixture.rest("GET", f"/api2/json/nodes/localhost/tasks/{upid}/status", token)
        fixture.assertEqual(status, 200, data)
        if data["status"] == "stopped":
            return data
        time.sleep(0.05)
    fixture.fail("task did not stop: " + upid)


class RestApiTest(ServerFixture):
    def test_tokens_tickets_and_csrf(self):
        status, data = self.rest("GET", "/api2/json/version")
        self.assertEqual(status, 200)
        self.assertIn("version", data)
        status, _ = self.rest("GET", "/api2/json/version", token=None)
        self.assertEqual(status, 401)
        status, _ = self.rest("GET", "/api2/json/version", token=None,
                              headers=w.token_header("alice@pbs!host1", "not the secret"))
        self.assertEqual(status, 401)
        # Login as PBS's client does it: JSON body, ticket and CSRF token back.
        body = json.dumps({"username": "dave@pbs", "password": "alice's password"}).encode()
        status, login = self.rest("POST", "/api2/json/access/ticket", token=None,
                                  headers={"Content-Type": "application/json"}, body=body)
        self.assertEqual(status, 200, login)
        self.assertEqual(login["username"], "dave@pbs")
        self.assertTrue(login["ticket"].startswith("PBS:dave@pbs:"))
        cookie = {"Cookie": "PBSAuthCookie=" + login["ticket"]}
        status, data = self.rest("GET", API + "/status", token=None, headers=cookie)
        self.assertEqual(status, 200, data)
        self.assertGreater(data["total"], 0)
        # Anything but GET also needs the CSRF token.
        prune = json.dumps({"backup-type": "host", "backup-id": "none", "keep-last": 1,
                            "dry-run": True}).encode()
        status, _ = self.rest("POST", API + "/prune", token=None,
                              headers=dict(cookie, **{"Content-Type": "application/json"}), body=prune)
        self.assertEqual(status, 401)
        status, data = self.rest("POST", API + "/prune", token=None,
                                 headers=dict(cookie, **{"Content-Type": "application/json",
                                                         "CSRFPreventionToken": login["CSRFPreventionToken"]}),
                                 body=prune)
        self.assertEqual(status, 200, data)
        self.assertEqual(data, [])
        bad = json.dumps({"username": "dave@pbs", "password": "wrong"}).encode()
        status, _ = self.rest("POST", "/api2/json/access/ticket", token=None,
                              headers={"Content-Type": "application/json"}, body=bad)
        self.assertEqual(status, 401)

    def test_listings_forget_prune_and_tasks(self):
        t = 1_720_000_000
        for i in range(3):
            self.backup_archive("host", "listed", t + i * 86400, [b"day %d" % i, b"shared" * 100])
        status, snaps = self.rest("GET", API + "/snapshots?backup-type=host&backup-id=listed")
        self.assertEqual(status, 200, snaps)
        self.assertEqual([s["backup-time"] for s in snaps], [t, t + 86400, t + 2 * 86400])
        for s in snaps:
            self.assertEqual(s["owner"], "alice@pbs!host1")
            self.assertIn("root.pxar.didx", [f["filename"] for f in s["files"]])
        status, groups = self.rest("GET", API + "/groups")
        group = [g for g in groups if g["backup-id"] == "listed"][0]
        self.assertEqual(group["backup-count"], 3)
        self.assertEqual(group["last-backup"], t + 2 * 86400)
        status, files = self.rest("GET", API + f"/files?backup-type=host&backup-id=listed&backup-time={t}")
        self.assertEqual(status, 200, files)
        self.assertIn("root.pxar.didx", [f["filename"] for f in files])

        # alice (backup role) may not forget; dave (admin) may.
        query = f"?backup-type=host&backup-id=listed&backup-time={t}"
        status, _ = self.rest("DELETE", API + "/snapshots" + query)
        self.assertEqual(status, 403)
        status, _ = self.rest("DELETE", API + "/snapshots" + query, token="dave@pbs!admin")
        self.assertEqual(status, 200)
        prune = json.dumps({"backup-type": "host", "backup-id": "listed", "keep-last": 1}).encode()
        status, marks = self.rest("POST", API + "/prune", token="dave@pbs!admin",
                                  headers={"Content-Type": "application/json"}, body=prune)
        self.assertEqual(status, 200, marks)
        self.assertEqual(sorted((m["backup-time"], m["keep"]) for m in marks),
                         [(t + 86400, False), (t + 2 * 86400, True)])
        status, snaps = self.rest("GET", API + "/snapshots?backup-type=host&backup-id=listed")
        self.assertEqual([s["backup-time"] for s in snaps], [t + 2 * 86400])

        # GC and verify run as tasks whose status the client polls.
        status, _ = self.rest("POST", API + "/gc")
        self.assertEqual(status, 403, "GC needs the admin role")
        status, upid = self.rest("POST", API + "/gc", token="dave@pbs!admin")
        self.assertEqual(status, 200, upid)
        self.assertTrue(upid.startswith("UPID:"))
        task = wait_task(self, upid, "dave@pbs!admin")
        self.assertEqual(task["exitstatus"], "OK", task)
        status, gc = self.rest("GET", API + "/gc", token="dave@pbs!admin")
        self.assertEqual(gc["upid"], upid)
        status, upid = self.rest("POST", API + "/verify", token="dave@pbs!admin")
        self.assertEqual(status, 200, upid)
        task = wait_task(self, upid, "dave@pbs!admin")
        self.assertEqual(task["exitstatus"], "OK", task)
        self.assertGreaterEqual(task["result"]["snapshots-ok"], 1)
        # Another user's task is not theirs to see.
        status, _ = self.rest("GET", f"/api2/json/nodes/localhost/tasks/{upid}/status")
        self.assertEqual(status, 403)

    def test_metrics_are_prometheus_text(self):
        self.backup_archive("host", "metered", 1_730_000_000, [b"m" * 5000])
        status, _ = self.rest("GET", "/metrics")
        self.assertEqual(status, 403, "metrics need the audit role on /datastore")
        status, text = self.rest("GET", "/metrics", token="dave@pbs!admin")
        self.assertEqual(status, 200)
        samples = {}
        types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                types[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
            name = key.split("{")[0]
            self.assertIn(name, types, "a sample without its TYPE line: " + line)
        self.assertGreaterEqual(samples['chunkvault_sessions_total{kind="backup",outcome="finished"}'], 1)
        self.assertGreaterEqual(samples['chunkvault_received_chunks_total{result="stored"}'], 1)
        self.assertGreater(samples["chunkvault_requests_total"], 0)
        self.assertEqual(types["chunkvault_sessions_active"], "gauge")

    def test_namespaces_are_created_one_level_at_a_time(self):
        admin = "dave@pbs!admin"
        json_body = {"Content-Type": "application/json"}
        for name in ("a/b", "..", "", "x" * 300):
            status, _ = self.rest("POST", "/api2/json/admin/datastore/store1/namespace", admin,
                                  json_body, json.dumps({"name": name}).encode())
            self.assertEqual(status, 400, name)
        status, data = self.rest("POST", "/api2/json/admin/datastore/store1/namespace", admin,
                                 json_body, json.dumps({"name": "team"}).encode())
        self.assertEqual((status, data), (200, "team"))
        status, data = self.rest("GET", "/api2/json/admin/datastore/store1/namespace", admin)
        self.assertEqual(status, 200)
        self.assertIn({"ns": "team"}, data)
        self.assertNotIn({"ns": "a"}, data)
        # The backup role may not create one.
        status, _ = self.rest("POST", "/api2/json/admin/datastore/store1/namespace",
                              headers=json_body, body=json.dumps({"name": "mine"}).encode())
        self.assertEqual(status, 403)

    def test_a_removed_token_is_refused_at_once(self):
        out = run(CHUNKVAULTD, "token", "add", "bob@pbs!temp", "--json", "--config-dir",
                  self.config_dir).stdout
        secret = json.loads(out)["value"]
        run(CHUNKVAULTD, "acl", "set", "/datastore/store1", "audit", "--auth-id", "bob@pbs!temp",
            "--config-dir", self.config_dir)
        hdr = w.token_header("bob@pbs!temp", secret)
        status, _ = self.rest("GET", API + "/status", token=None, headers=hdr)
        self.assertEqual(status, 403, "bob has only backup (no audit) for himself")
        run(CHUNKVAULTD, "token", "remove", "bob@pbs!temp", "--config-dir", self.config_dir)
        status, _ = self.rest("GET", API + "/status", token=None, headers=hdr)
        self.assertEqual(status, 401)


if __name__ == "__main__":
    unittest.main()

// The S3 client, and the stack of wrappers NewS3Backend puts over it,
// against a scripted HTTP server: retries, error messages, conditional
// PUTs, listings, batched deletes, rate limits, request counts and TLS
// pinning, all deterministic (the wrappers' sleeps are recorded, not
// slept).
#include <gtest/gtest.h>

#include <mutex>

#include "backend/s3/s3_backend.h"
#include "backend/s3/s3_client.h"
#include "backend/s3/sigv4.h"
#include "backend/wrappers.h"
#include "chunkvault/hash.h"
#include "support/scripted_server.h"

namespace chunkvault {
namespace {

using testing::ScriptedReply;
using testing::ScriptedServer;

const Credentials kCreds{"AKIDTEST", "very-secret-key", ""};

int64_t FixedNow() { return 1700000000; }

// A clock that never waits: sleeps advance a fake monotonic clock.
struct FakeTiming {
  std::mutex mu;
  double clock = 1000;
  std::vector<std::chrono::microseconds> sleeps;
  double random = 0.5;

  WaitClock Get() {
    WaitClock t;
    t.monotonic_seconds = [this] {
      std::lock_guard lock(mu);
      return clock;
    };
    t.sleep = [this](std::chrono::microseconds d) {
      std::lock_guard lock(mu);
      sleeps.push_back(d);
      clock += double(d.count()) / 1e6;
    };
    t.random_unit = [this] { return random; };
    return t;
  }
};

class S3ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<S3Client> Client(ScriptedServer& server, S3Settings config = {},
                                   HttpClientOptions http = {}) {
    config.endpoint = server.url();
    if (config.bucket.empty()) config.bucket = "bkt";
    config.path_style = true;
    auto h = NewCurlHttpClient(http);
    EXPECT_TRUE(h.has_value()) << h.error().message();
    auto c = S3Client::Create(config, kCreds, std::move(*h), FixedNow);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return std::move(*c);
  }

  // The datastore's stack over a client of the server.
  CountedBackend Stack(ScriptedServer& server, S3Settings config = {},
                       HttpClientOptions http = {},
                       std::function<void(const std::string&)> on_retry = nullptr,
                       int max_attempts = 5) {
    S3BackendOptions o;
    o.clock = timing_.Get();
    o.on_retry = std::move(on_retry);
    o.retry.max_attempts = max_attempts;
    return NewS3Backend(std::shared_ptr<S3Client>(Client(server, config, http)), o);
  }

  FakeTiming timing_;
};

const char* kSlowDown =
    "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request "
    "rate.</Message><RequestId>r1</RequestId></Error>";

TEST_F(S3ClientTest, RetriesA503BurstWithGrowingBackoff) {
  ScriptedServer server;
  for (int i = 0; i < 3; ++i) server.Add(ScriptedReply::Status(503, kSlowDown));
  server.Add(ScriptedReply::Status(200, "payload"));
  auto s3 = Stack(server);
  auto r = s3.backend->Get("a/key");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(AsString(*r), "payload");
  EXPECT_EQ(server.requests().size(), 4u);
  EXPECT_EQ(s3.counter->counts().get, 4u) << "every attempt is a request on the bill";
  // Base 200 ms doubling, half fixed and half jitter (random = 0.5): 150, 300, 600 ms.
  ASSERT_EQ(timing_.sleeps.size(), 3u);
  EXPECT_EQ(timing_.sleeps[0].count(), 150000);
  EXPECT_EQ(timing_.sleeps[1].count(), 300000);
  EXPECT_EQ(timing_.sleeps[2].count(), 600000);
}

TEST_F(S3ClientTest, EachRetryIsToldWhatFailedAndWhenItIsTriedAgain) {
  ScriptedServer server;
  for (int i = 0; i < 2; ++i) server.Add(ScriptedReply::Status(503, kSlowDown));
  server.Add(ScriptedReply::Status(200, "payload"));
  std::vector<std::string> told;
  auto s3 = Stack(server, {}, {}, [&](const std::string& m) {
    told.push_back(m);
    // Told before the wait, not after it.
    EXPECT_EQ(timing_.sleeps.size(), told.size() - 1);
  });
  ASSERT_TRUE(s3.backend->Get("a/key").has_value());
  ASSERT_EQ(told.size(), 2u);
  const std::string start =
      "S3 GET a/key (bucket 'bkt' at " + server.url() + "): HTTP 503 SlowDown";
  EXPECT_EQ(told[0].rfind(start, 0), 0u) << told[0];
  EXPECT_NE(told[0].find("; attempt 2 of 5 in 0.1 s"), std::string::npos) << told[0];
  EXPECT_NE(told[1].find("; attempt 3 of 5 in 0.3 s"), std::string::npos) << told[1];
  for (const std::string& m : told)
    EXPECT_EQ(m.find(kCreds.secret_access_key), std::string::npos) << m;
  // A request that succeeds at once tells nothing.
  server.Add(ScriptedReply::Status(200, "again"));
  ASSERT_TRUE(s3.backend->Get("b").has_value());
  EXPECT_EQ(told.size(), 2u);
}

TEST_F(S3ClientTest, JitterStaysWithinHalfAndWholeDelay) {
  ScriptedServer server;
  for (int i = 0; i < 2; ++i) server.Add(ScriptedReply::Status(500));
  server.Add(ScriptedReply::Status(200));
  auto s3 = Stack(server);
  timing_.random = 0.0;
  ASSERT_TRUE(s3.backend->Get("k").has_value());
  timing_.random = 0.999999;
  server.Add(ScriptedReply::Status(502));
  server.Add(ScriptedReply::Status(200));
  ASSERT_TRUE(s3.backend->Get("k").has_value());
  ASSERT_EQ(timing_.sleeps.size(), 3u);
  EXPECT_EQ(timing_.sleeps[0].count(), 100000);  // 200 ms * (1/2 + 0)
  EXPECT_EQ(timing_.sleeps[1].count(), 200000);  // 400 ms * (1/2 + 0)
  EXPECT_GE(timing_.sleeps[2].count(), 199999);  // 200 ms * (1/2 + ~1/2)
  EXPECT_LE(timing_.sleeps[2].count(), 200000);
}

TEST_F(S3ClientTest, GivingUpNamesTheServerErrorTheBucketAndTheAttempts) {
  ScriptedServer server;
  for (int i = 0; i < 5; ++i) server.Add(ScriptedReply::Status(503, kSlowDown));
  auto s3 = Stack(server);
  auto r = s3.backend->Get("a/key");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork);
  const std::string& m = r.error().message();
  for (const std::string& part : {std::string("S3 GET a/key"), std::string("bucket 'bkt' at ") + server.url(),
                                  std::string("503 SlowDown: Please reduce your request rate."),
                                  std::string("5 attempts")})
    EXPECT_NE(m.find(part), std::string::npos) << m;
}

TEST_F(S3ClientTest, ConnectionResetsAreRetried) {
  ScriptedServer server;
  server.Add(ScriptedReply::Reset());
  server.Add(ScriptedReply::Reset());
  server.Add(ScriptedReply::Status(200, "ok"));
  auto s3 = Stack(server);
  auto r = s3.backend->Get("k");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(S3ClientTest, AStalledAnswerTimesOutAndIsRetried) {
  ScriptedServer server;
  server.Add(ScriptedReply::NoAnswer());
  server.Add(ScriptedReply::Status(200, "late but fine"));
  HttpClientOptions http;
  http.stall_timeout_ms = 1000;  // the shortest libcurl stall detection
  auto s3 = Stack(server, {}, http);
  auto r = s3.backend->Get("k");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(AsString(*r), "late but fine");
}

TEST_F(S3ClientTest, UnreachableEndpointIsNamed) {
  S3Settings config;
  config.endpoint = "http://127.0.0.1:1";
  config.bucket = "bkt";
  config.path_style = true;
  auto client = *S3Client::Create(config, kCreds, *NewCurlHttpClient({}), FixedNow);
  S3BackendOptions o;
  o.clock = timing_.Get();
  o.retry.max_attempts = 3;
  auto st = NewS3Backend(std::shared_ptr<S3Client>(std::move(client)), o).backend->Check();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kNetwork);
  EXPECT_NE(st.error().message().find("bucket 'bkt' at http://127.0.0.1:1"), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("3 attempts"), std::string::npos) << st.error().message();
}

TEST_F(S3ClientTest, PutIfAbsentTreats412AsAlreadyThere) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(200));
  server.Add(ScriptedReply::Status(412));
  auto client = Client(server);
  EXPECT_EQ(*client->PutObject(".chunks/abcd/abcd", AsBytes("blob"), true), true);
  EXPECT_EQ(*client->PutObject(".chunks/abcd/abcd", AsBytes("blob"), true), false);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);  // a 412 is an answer, not retried
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/bkt/.chunks/abcd/abcd");
  EXPECT_EQ(reqs[0].headers["if-none-match"], "*");
  EXPECT_EQ(reqs[0].body, "blob");
  // The payload is signed: its hash is in the request and in the signature.
  EXPECT_EQ(reqs[0].headers["x-amz-content-sha256"], ToHex(Sha256Of(AsBytes("blob"))));
  EXPECT_NE(reqs[0].headers["authorization"].find("if-none-match"), std::string::npos);
  EXPECT_NE(reqs[0].headers["authorization"].find("Credential=AKIDTEST/20231114/us-east-1/s3/aws4_request"),
            std::string::npos);
}

TEST_F(S3ClientTest, ConflictOnPutIsRetriedButNotOnGet) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(409));
  server.Add(ScriptedReply::Status(200));
  server.Add(ScriptedReply::Status(409));
  auto s3 = Stack(server);
  EXPECT_TRUE(s3.backend->Put("k", AsBytes("x"), PutMode::kOverwrite).has_value());
  auto g = s3.backend->Get("k");
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().message().find("HTTP 409"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(S3ClientTest, NotFoundAndAccessDeniedCarryTheServersWords) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(
      404, "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"));
  server.Add(ScriptedReply::Status(
      403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>tx42</RequestId></Error>"));
  auto client = Client(server);
  auto r = client->GetObject("missing/key");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("404 NoSuchKey: The specified key does not exist."), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("missing/key"), std::string::npos);
  r = client->GetObject("k");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("403 AccessDenied: Access Denied (request id tx42)"), std::string::npos) << m;
  EXPECT_NE(m.find("access key AKIDTEST"), std::string::npos) << m;
  EXPECT_EQ(m.find("very-secret-key"), std::string::npos) << m;
  EXPECT_EQ(server.requests().size(), 2u);  // 4xx are final
}

TEST_F(S3ClientTest, HeadReportsSizeOrAbsence) {
  ScriptedServer server;
  ScriptedReply found = ScriptedReply::Status(200);
  found.headers["Content-Length"] = "1234";
  server.Add(found);
  server.Add(ScriptedReply::Status(404));
  auto client = Client(server);
  EXPECT_EQ(**client->HeadObject("k"), 1234u);
  EXPECT_FALSE(client->HeadObject("k")->has_value());
}

TEST_F(S3ClientTest, SkipIfNoneMatchAsksWithHeadFirst) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(404));  // HEAD: absent
  server.Add(ScriptedReply::Status(200));  // PUT
  server.Add(ScriptedReply::Status(200));  // HEAD: present -> no PUT
  S3Settings config;
  config.skip_if_none_match = true;
  auto s3 = Stack(server, config);
  EXPECT_EQ(*s3.backend->Put("k", AsBytes("x"), PutMode::kIfAbsent), true);
  EXPECT_EQ(*s3.backend->Put("k", AsBytes("x"), PutMode::kIfAbsent), false);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "HEAD");
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].headers.count("if-none-match"), 0u);
  EXPECT_EQ(reqs[2].method, "HEAD");
  const BackendCounts counted = s3.counter->counts();
  EXPECT_EQ(counted.head, 2u) << "the HEADs are on the bill too";
  EXPECT_EQ(counted.put, 1u);
}

TEST_F(S3ClientTest, ListingFollowsContinuationTokensAndDecodesKeys) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(
      200, "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>tok/+=</NextContinuationToken>"
           "<Contents><Key>p/a%20b</Key><Size>3</Size></Contents>"
           "<Contents><Key>p/c%2Bd%26e</Key><Size>4</Size></Contents></ListBucketResult>"));
  server.Add(ScriptedReply::Status(
      200, "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
           "<Contents><Key>p/z</Key><Size>5</Size></Contents></ListBucketResult>"));
  auto client = Client(server);
  auto backend = NewS3ObjectBackend(std::shared_ptr<S3Client>(std::move(client)), 2);
  std::vector<std::string> keys;
  ASSERT_TRUE(backend->List("p/", [&](const ObjectInfo& o) -> Status {
    keys.push_back(o.key + ":" + std::to_string(o.size));
    return {};
  }).has_value());
  EXPECT_EQ(keys, (std::vector<std::string>{"p/a b:3", "p/c+d&e:4", "p/z:5"}));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[0].target.find("list-type=2"), std::string::npos);
  EXPECT_NE(reqs[0].target.find("max-keys=2"), std::string::npos);
  EXPECT_NE(reqs[0].target.find("prefix=p%2F"), std::string::npos);
  EXPECT_NE(reqs[1].target.find("continuation-token=tok%2F%2B%3D"), std::string::npos);
}

TEST_F(S3ClientTest, DeleteObjectsEscapesKeysAndReportsPerKeyErrors) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(
      200, "<DeleteResult><Error><Key>b&lt;2</Key><Code>AccessDenied</Code>"
           "<Message>no</Message></Error></DeleteResult>"));
  auto client = Client(server);
  auto errors = client->DeleteObjects({"a&1", "b<2", "c\"'>3"});
  ASSERT_TRUE(errors.has_value()) << errors.error().message();
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].key, "b<2");
  EXPECT_EQ((*errors)[0].code, "AccessDenied");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/bkt?delete");
  EXPECT_NE(reqs[0].body.find("<Key>a&amp;1</Key>"), std::string::npos) << reqs[0].body;
  EXPECT_NE(reqs[0].body.find("<Key>b&lt;2</Key>"), std::string::npos) << reqs[0].body;
  EXPECT_NE(reqs[0].body.find("<Quiet>true</Quiet>"), std::string::npos);
  EXPECT_FALSE(reqs[0].headers["content-md5"].empty());
}

TEST_F(S3ClientTest, DeleteObjectsSendsBatchesOfAThousand) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(200, "<DeleteResult/>"));
  server.Add(ScriptedReply::Status(200, "<DeleteResult/>"));
  server.Add(ScriptedReply::Status(200, "<DeleteResult/>"));
  auto client = Client(server);
  std::vector<std::string> keys;
  for (int i = 0; i < 2001; ++i) keys.push_back("k" + std::to_string(i));
  ASSERT_TRUE(client->DeleteObjects(keys).has_value());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(reqs[2].body.find("<Key>k2000</Key>"), std::string::npos);
}

TEST_F(S3ClientTest, CopyObjectChecksTheBodyOfA200) {
  ScriptedServer server;
  server.Add(ScriptedReply::Status(200, "<CopyObjectResult><ETag>x</ETag></CopyObjectResult>"));
  server.Add(ScriptedReply::Status(200, "<Error><Code>InternalError</Code><Message>copy broke</Message></Error>"));
  auto client = Client(server);
  ASSERT_TRUE(client->CopyObject("src key", "dst").has_value());
  auto reqs = server.requests();
  EXPECT_EQ(reqs[0].headers["x-amz-copy-source"], "/bkt/src%20key");
  auto st = client->CopyObject("src key", "dst");
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("copy broke"), std::string::npos) << st.error().message();
}

TEST_F(S3ClientTest, PutRateLimitSpacesRequests) {
  ScriptedServer server;
  for (int i = 0; i < 5; ++i) server.Add(ScriptedReply::Status(200));
  S3Settings config;
  config.put_rate_limit = 2;  // per second
  auto s3 = Stack(server, config);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(s3.backend->Put("k", AsBytes("x"), PutMode::kOverwrite).has_value());
  // The first goes at once, the others half a second apart.
  ASSERT_EQ(timing_.sleeps.size(), 4u);
  for (auto d : timing_.sleeps) EXPECT_EQ(d.count(), 500000);
}

// A fake HttpClient: records the request instead of sending it.
struct Recorder : HttpClient {
  HttpRequest last;
  Result<HttpResponse> Send(const HttpRequest& r) override {
    last = r;
    HttpResponse resp;
    resp.status = 200;
    return resp;
  }
};

TEST_F(S3ClientTest, VirtualHostStyleUsesTheBucketInTheHostName) {
  S3Settings config;
  config.endpoint = "https://s3.example.com";
  config.bucket = "my-bucket";
  auto rec = std::make_unique<Recorder>();
  Recorder* seen = rec.get();
  auto client = *S3Client::Create(config, kCreds, std::move(rec), FixedNow);
  EXPECT_FALSE(client->path_style());
  ASSERT_TRUE(client->GetObject("dir/a b").has_value());
  EXPECT_EQ(seen->last.url, "https://my-bucket.s3.example.com/dir/a%20b");
  bool host_ok = false;
  for (auto& h : seen->last.headers) host_ok |= h.name == "host" && h.value == "my-bucket.s3.example.com";
  EXPECT_TRUE(host_ok);
}

TEST_F(S3ClientTest, PathStyleWhereTheBucketCannotLeadTheHostName) {
  struct Case {
    const char* endpoint;
    const char* bucket;
    const char* url;  // of GET "k"
  };
  for (const Case& c : {
           // IP addresses
           Case{"http://127.0.0.1:7480", "bkt", "http://127.0.0.1:7480/bkt/k"},
           Case{"http://[::1]:7480", "bkt", "http://[::1]:7480/bkt/k"},
           // no DNS label; dots over TLS, and (allowed) over plain HTTP
           Case{"https://s3.example.com", "Old_Bucket", "https://s3.example.com/Old_Bucket/k"},
           Case{"https://s3.example.com", "a.b.c", "https://s3.example.com/a.b.c/k"},
           Case{"http://localhost:9000", "a.b.c", "http://a.b.c.localhost:9000/k"},
           // the host form where it works
           Case{"https://s3.example.com", "bkt", "https://bkt.s3.example.com/k"},
       }) {
    S3Settings config;
    config.endpoint = c.endpoint;
    config.bucket = c.bucket;
    auto rec = std::make_unique<Recorder>();
    Recorder* seen = rec.get();
    auto client = *S3Client::Create(config, kCreds, std::move(rec), FixedNow);
    ASSERT_TRUE(client->GetObject("k").has_value());
    EXPECT_EQ(seen->last.url, c.url) << c.endpoint << " " << c.bucket;
    // Asked for, path style is used whatever the names.
    config.path_style = true;
    config.endpoint = "https://s3.example.com";
    client = *S3Client::Create(config, kCreds, std::make_unique<Recorder>(), FixedNow);
    EXPECT_TRUE(client->path_style()) << c.bucket;
  }
}

TEST(S3BucketNames, OnlyDnsLabelsLeadAHostName) {
  for (const char* ok : {"abc", "my-bucket", "a.b-c.d", "x0.y1", "123-abc"})
    EXPECT_TRUE(IsDnsCompatibleBucket(ok)) << ok;
  for (const char* bad : {"ab", "Upper", "under_score", "-lead", "trail-", "a..b", "a.-b", "a-.b",
                          ".dot", "dot.", "192.168.1.1", "12345", "sp ace"})
    EXPECT_FALSE(IsDnsCompatibleBucket(bad)) << bad;
  EXPECT_FALSE(IsDnsCompatibleBucket(std::string(64, 'a')));
  EXPECT_TRUE(IsDnsCompatibleBucket(std::string(63, 'a')));
}

TEST_F(S3ClientTest, ConnectionsAreKeptAliveAndReused) {
  ScriptedServer server(/*tls=*/false, /*keep_alive=*/true);
  for (int i = 0; i < 10; ++i) server.Add(ScriptedReply::Status(200, "r" + std::to_string(i)));
  auto client = Client(server);
  for (int i = 0; i < 10; ++i) {
    auto r = client->GetObject("k" + std::to_string(i));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(AsString(*r), "r" + std::to_string(i));
  }
  EXPECT_EQ(server.requests().size(), 10u);
  EXPECT_EQ(server.connections(), 1) << "each request opened its own connection";
}

TEST_F(S3ClientTest, PlainHttpOnlyForLoopback) {
  S3Settings config;
  config.bucket = "b";
  for (const char* ok : {"http://127.0.0.1:7480", "http://localhost:9000", "https://s3.example.com"}) {
    config.endpoint = ok;
    EXPECT_TRUE(S3Client::Create(config, kCreds, *NewCurlHttpClient({})).has_value()) << ok;
  }
  config.endpoint = "http://s3.example.com";
  auto c = S3Client::Create(config, kCreds, *NewCurlHttpClient({}));
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("plain HTTP is only allowed for loopback"), std::string::npos);
  config.endpoint = "https://s3.example.com/some/path";
  EXPECT_FALSE(S3Client::Create(config, kCreds, *NewCurlHttpClient({})).has_value());
}

TEST_F(S3ClientTest, PinnedCertificateFingerprint) {
  ScriptedServer server(/*tls=*/true);
  server.Add(ScriptedReply::Status(200, "secure"));
  S3Settings config;
  HttpClientOptions http;
  // Upper case with colons is accepted, as fingerprints are usually shown.
  std::string shown;
  for (size_t i = 0; i < server.fingerprint().size(); i += 2)
    shown += (i ? ":" : "") + server.fingerprint().substr(i, 2);
  for (auto& ch : shown) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  http.pinned_fingerprint = shown;
  auto ok = Client(server, config, http)->GetObject("k");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(AsString(*ok), "secure");

  http.pinned_fingerprint = std::string(64, 'a');
  auto bad = Client(server, config, http)->GetObject("k");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(bad.error().message().find("certificate fingerprint mismatch"), std::string::npos)
      << bad.error().message();
  EXPECT_NE(bad.error().message().find(server.fingerprint()), std::string::npos);

  // Without a pin, a self-signed certificate is not trusted (and not retried).
  auto untrusted = Stack(server, config, {}).backend->Get("k");
  ASSERT_FALSE(untrusted.has_value());
  EXPECT_EQ(untrusted.error().code(), ErrorCode::kPermissionDenied) << untrusted.error().message();
  EXPECT_EQ(server.requests().size(), 1u);

  EXPECT_FALSE(NewCurlHttpClient({.connect_timeout_ms = 1000, .stall_timeout_ms = 1000,
                                  .pinned_fingerprint = "abc"})
                   .has_value());
}

}  // namespace
}  // namespace chunkvault

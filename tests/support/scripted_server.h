// A scripted HTTP server on 127.0.0.1 for fault tests of the S3 client:
// real sockets, answers taken from a script, every request recorded.
// With TLS it serves a self-signed certificate made at start.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace chunkvault::testing {

struct ScriptedReply {
  enum class Kind { kRespond, kReset, kNoAnswer } kind = Kind::kRespond;
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;

  static ScriptedReply Status(int status, std::string body = "") {
    ScriptedReply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static ScriptedReply Reset() {
    ScriptedReply r;
    r.kind = Kind::kReset;
    return r;
  }
  // Reads the request and never answers (until the client gives up).
  static ScriptedReply NoAnswer() {
    ScriptedReply r;
    r.kind = Kind::kNoAnswer;
    return r;
  }
};

struct RecordedRequest {
  std::string method, target;  // target: path?query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class ScriptedServer {
 public:
  // With `keep_alive`, a connection serves requests until the client
  // closes it (one connection at a time: for sequential clients only).
  explicit ScriptedServer(bool tls = false, bool keep_alive = false);
  ~ScriptedServer();

  // Queues replies; when the script runs out, requests get 500.
  void Add(ScriptedReply reply);
  std::string url() const;              // http(s)://127.0.0.1:<port>
  std::string fingerprint() const;      // SHA-256 of the certificate (TLS)
  std::vector<RecordedRequest> requests();
  int connections();  // TCP connections accepted so far

 private:
  void Serve();
  struct Impl;
  Impl* impl_;
  std::thread thread_;
};

}  // namespace chunkvault::testing

#include "server/metrics.h"

namespace chunkvault::server {
namespace {

class Writer {
 public:
  // One metric family: its HELP and TYPE lines, then samples.
  void Family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(uint64_t value, const std::string& labels = "") {
    out_ += name_ + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value) + "\n";
  }
  void SampleSigned(int64_t value) { out_ += name_ + " " + std::to_string(value) + "\n"; }
  std::string Take() { return std::move(out_); }

 private:
  std::string name_;
  std::string out_;
};

// A label value, escaped as the format asks (backslash, quote, newline).
std::string Label(const char* key, const std::string& value) {
  std::string v;
  for (char c : value) {
    if (c == '\\' || c == '"') v += '\\';
    if (c == '\n') {
      v += "\\n";
      continue;
    }
    v += c;
  }
  return std::string(key) + "=\"" + v + "\"";
}

}  // namespace

std::string RenderMetrics(const ServerMetrics& m, const std::vector<StoreMetrics>& stores,
                          const std::map<std::string, std::pair<uint64_t, uint64_t>>& tasks) {
  Writer w;
  w.Family("chunkvault_sessions_total", "counter", "Backup and restore sessions by outcome.");
  w.Sample(m.backups_finished, Label("kind", "backup") + "," + Label("outcome", "finished"));
  w.Sample(m.backups_aborted, Label("kind", "backup") + "," + Label("outcome", "aborted"));
  w.Sample(m.restores, Label("kind", "restore") + "," + Label("outcome", "ended"));
  w.Family("chunkvault_sessions_active", "gauge", "Backup and restore sessions running.");
  w.SampleSigned(m.sessions_active);
  w.Family("chunkvault_received_bytes_total", "counter", "Bytes of chunks and blobs uploaded.");
  w.Sample(m.bytes_received);
  w.Family("chunkvault_received_chunks_total", "counter",
           "Chunks uploaded, by whether the store had them.");
  w.Sample(m.chunks_stored, Label("result", "stored"));
  w.Sample(m.chunks_duplicate, Label("result", "duplicate"));
  w.Family("chunkvault_served_bytes_total", "counter",
           "Bytes of files and chunks sent to restores.");
  w.Sample(m.bytes_served);
  w.Family("chunkvault_served_chunks_total", "counter", "Chunks sent to restores.");
  w.Sample(m.chunks_served);
  w.Family("chunkvault_requests_total", "counter", "Requests answered (REST and session calls).");
  w.Sample(m.requests);
  w.Family("chunkvault_auth_failures_total", "counter", "Requests refused for bad credentials.");
  w.Sample(m.auth_failures);

  w.Family("chunkvault_tasks_total", "counter", "GC and verify tasks started, by type.");
  for (const auto& [type, counts] : tasks) w.Sample(counts.first, Label("type", type));
  w.Family("chunkvault_task_failures_total", "counter", "GC and verify tasks that failed.");
  for (const auto& [type, counts] : tasks) w.Sample(counts.second, Label("type", type));

  struct Counter {
    const char* name;
    const char* help;
    uint64_t CacheCounters::*field;
  };
  const Counter cache_counters[] = {
      {"chunkvault_cache_hits_total", "Chunk reads the cache answered.", &CacheCounters::hits},
      {"chunkvault_cache_misses_total", "Chunk reads fetched from S3.", &CacheCounters::misses},
      {"chunkvault_cache_hit_bytes_total", "Bytes the cache answered.", &CacheCounters::bytes_hit},
      {"chunkvault_cache_admissions_total", "Chunks added to the cache.",
       &CacheCounters::admissions},
      {"chunkvault_cache_admitted_bytes_total", "Bytes added to the cache.",
       &CacheCounters::bytes_admitted},
      {"chunkvault_cache_evictions_total", "Chunks evicted from the cache.",
       &CacheCounters::evictions},
      {"chunkvault_cache_evicted_bytes_total", "Bytes evicted from the cache.",
       &CacheCounters::bytes_evicted},
      {"chunkvault_cache_uploads_skipped_total", "Chunk uploads the cache made unnecessary.",
       &CacheCounters::uploads_skipped},
  };
  for (const Counter& c : cache_counters) {
    w.Family(c.name, "counter", c.help);
    for (const auto& s : stores)
      if (s.report.remote) w.Sample(s.report.counters.*(c.field), Label("store", s.name));
  }
  w.Family("chunkvault_cache_bytes", "gauge", "Bytes in the chunk cache.");
  for (const auto& s : stores)
    if (s.report.remote) w.Sample(s.report.state.bytes, Label("store", s.name));
  w.Family("chunkvault_cache_chunks", "gauge", "Chunks in the chunk cache.");
  for (const auto& s : stores)
    if (s.report.remote) w.Sample(s.report.state.chunks, Label("store", s.name));

  w.Family("chunkvault_s3_requests_total", "counter", "S3 requests made, by kind.");
  for (const auto& s : stores) {
    if (!s.report.remote) continue;
    const BackendCounts& r = s.report.requests;
    const std::pair<const char*, uint64_t> kinds[] = {{"get", r.get},    {"put", r.put},
                                                      {"head", r.head},  {"list", r.list},
                                                      {"delete", r.del}, {"copy", r.copy}};
    for (auto [kind, n] : kinds) w.Sample(n, Label("store", s.name) + "," + Label("kind", kind));
  }
  w.Family("chunkvault_s3_request_errors_total", "counter",
           "S3 requests that failed (not counting a missing key).");
  for (const auto& s : stores)
    if (s.report.remote) w.Sample(s.report.requests.errors, Label("store", s.name));
  w.Family("chunkvault_s3_bytes_total", "counter", "Bytes sent to and received from S3.");
  for (const auto& s : stores) {
    if (!s.report.remote) continue;
    w.Sample(s.report.requests.bytes_up, Label("store", s.name) + "," + Label("direction", "up"));
    w.Sample(s.report.requests.bytes_down,
             Label("store", s.name) + "," + Label("direction", "down"));
  }
  return w.Take();
}

}  // namespace chunkvault::server

#include "daemon/serve.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <mutex>

#include "chunkvault/time.h"
#include "daemon/admin.h"
#include "server/rest_api.h"
#include "server/server_config.h"
#include "server/tls_cert.h"
#include "server/tls_server.h"

namespace chunkvault::daemon {
namespace {

struct ServeArgs {
  std::string config_dir = kDefaultConfigDir;
  std::string listen = "[::]:8007";
  size_t workers = 32;
  int grace_seconds = 60;
  int request_timeout_seconds = 30;
};

// "ADDR:PORT", "[V6]:PORT" or "PORT" (all addresses).
Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& text) {
  std::string address = "::", port_text = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    address = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
      address = address.substr(1, address.size() - 2);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      address.empty())
    return Fail(ErrorCode::kInvalidArgument, "--listen '" + text + "': expected ADDRESS:PORT");
  return std::pair{address, static_cast<uint16_t>(port)};
}

std::mutex log_mu;
void LogLine(const std::string& line) {
  std::lock_guard lock(log_mu);
  std::fprintf(stderr, "chunkvaultd: %s\n", line.c_str());
  std::fflush(stderr);
}

int Serve(const ServeArgs& args) {
  auto listen = ParseListen(args.listen);
  if (!listen) {
    std::fprintf(stderr, "chunkvaultd: error: %s\n", listen.error().message().c_str());
    return kExitUsage;
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "chunkvaultd: error: %s\n", e.message().c_str());
    return kExitFailure;
  };
  // SIGTERM and SIGINT are taken by sigwait below, in no other thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Env* env = Env::Default();
  server::ConfigDir dir(*env, args.config_dir);
  if (auto st = dir.Create(); !st) return fail(st.error());
  if (auto config = dir.Load(); !config) return fail(config.error());
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0])
    std::snprintf(host, sizeof host, "localhost");
  if (auto st =
          server::EnsureCertificate(*env, dir.PathOf("proxy.key"), dir.PathOf("proxy.pem"), host);
      !st)
    return fail(st.error());
  auto cert = server::ReadCertificateInfo(*env, dir.PathOf("proxy.pem"));
  if (!cert) return fail(cert.error());
  auto api = server::RestApi::Create(env, args.config_dir, LogLine);
  if (!api) return fail(api.error());

  server::TlsServerOptions options;
  options.address = listen->first;
  options.port = listen->second;
  options.key_path = dir.PathOf("proxy.key");
  options.cert_path = dir.PathOf("proxy.pem");
  options.workers = std::max<size_t>(1, args.workers);
  options.request_timeout = std::chrono::seconds(args.request_timeout_seconds);
  options.log = LogLine;
  auto server = server::TlsServer::Start(options, **api);
  if (!server) return fail(server.error());
  // Tests and scripts wait for this line; it carries the chosen port.
  std::printf("chunkvaultd: listening on %s port %u, fingerprint %s\n", options.address.c_str(),
              (*server)->port(), cert->fingerprint.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogLine(std::string("stopping (") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
          "): no new connections; running sessions have " + std::to_string(args.grace_seconds) +
          " s to end");
  (*server)->Shutdown(std::chrono::seconds(args.grace_seconds));
  LogLine("stopped");
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  AddConfigDirOption(&app, args->config_dir);
  app.add_option("--listen", args->listen, "ADDRESS:PORT to serve on ([::]:8007: every address)")
      ->default_str("[::]:8007");
  app.add_option("--workers", args->workers, "Threads handling requests (they wait on disk and S3)")
      ->default_str("32");
  app.add_option("--grace-period", args->grace_seconds,
                 "Seconds running sessions get to end after SIGTERM before they are aborted")
      ->default_str("60");
  app.add_option("--request-timeout", args->request_timeout_seconds,
                 "Seconds a client has for its TLS handshake and each HTTP/1.1 request")
      ->default_str("30")
      ->check(CLI::Range(1, 3600));
  app.callback([args, &app, &exit_code] {
    if (app.get_subcommands().empty()) exit_code = Serve(*args);
  });
}

}  // namespace chunkvault::daemon

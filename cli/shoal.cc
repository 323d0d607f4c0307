// shoal: the command-line tool for a running shoal server. It gets bearer
// tokens for grpcurl, lists and shows objects and sessions, checks health,
// and runs the server itself (`shoal serve`). `shoal help` tells the rest.
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/objects/object.h"
#include "server/serve.h"
#include "shoal/shoal.h"

namespace {

constexpr char kDefaultServer[] = "127.0.0.1:50051";

constexpr char kUsage[] = R"usage(shoal: talk to a shoal server.

Usage: shoal COMMAND [OPTIONS] [ARGUMENTS]

Commands:
  token [ADDRESS]      Run the handshake and print a bearer token, for
                       grpcurl -H "authorization: Bearer $(shoal token)".
                       The session it opens lives on its lease (30 s after
                       its last call by default).
  ls [ADDRESS]         List the live objects.
  show NAME|ID         Show one object: its value, who holds it, how many
                       calls wait on it. --waiting=N first waits until N
                       calls are parked on it (up to --timeout).
  sessions [ADDRESS]   List the sessions, with what each holds and waits on.
  health [ADDRESS]     Print the server's health (SERVING); with --wait,
                       wait up to --timeout for the server to come up.
  serve [FLAGS]        Run a server: the flags of shoal-server (--listen,
                       --authkey-file, --lease, ...; `shoal serve --help`).
  help                 Print this.

Options:
  -s, --server=ADDRESS    host:port or unix:PATH; default $SHOAL_SERVER, or
                          127.0.0.1:50051.
  -k, --authkey-file=PATH The authkey; default $SHOAL_AUTHKEY_FILE, or the
                          key itself in $SHOAL_AUTHKEY.
  --name=TEXT             The client name a token's session shows in
                          listings (token only).
  --timeout=DURATION      How long to wait for the server: 10s by default
                          (5, 2.5s, 500ms).
  --tls-ca-file=PATH      TLS: the CA that signed the server's certificate;
                          default $SHOAL_TLS_CA_FILE.
  --tls-cert-file=PATH    TLS: this client's certificate, for a server that
  --tls-key-file=PATH     requires one, and its key; default
                          $SHOAL_TLS_CERT_FILE and $SHOAL_TLS_KEY_FILE.
  --waiting=N             show: wait until N calls are parked on the object.
  --wait                  health: wait for the server to come up.

Exit status: 0 on success, 1 when the server answers with an error (the
Python error kind is printed), 2 for a usage error.
)usage";

struct Options {
  std::string command;
  std::vector<std::string> args;
  std::string server;
  std::string authkey_file;
  std::string name;
  absl::Duration timeout = absl::Seconds(10);
  std::optional<int64_t> waiting;
  bool wait = false;
  // TLS: set when any of its options was given (the environment fills the
  // rest in the client library).
  std::optional<shoal::TlsOptions> tls;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "shoal: %s\nRun `shoal help` for usage.\n", message.c_str());
  std::exit(2);
}

absl::Duration ParseTimeout(const std::string& text) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && seconds >= 0) return absl::Seconds(seconds);
  absl::Duration duration;
  if (absl::ParseDuration(text, &duration) && duration >= absl::ZeroDuration()) return duration;
  UsageError(absl::StrCat("--timeout: not a duration: ", text));
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("SHOAL_SERVER"); env != nullptr && env[0] != '\0') {
    options.server = env;
  }
  if (const char* env = std::getenv("SHOAL_AUTHKEY_FILE"); env != nullptr && env[0] != '\0') {
    options.authkey_file = env;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      if (options.command.empty()) {
        options.command = arg;
      } else {
        options.args.push_back(arg);
      }
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto take_value = [&]() -> std::string {
      if (value.has_value()) return *value;
      if (i + 1 >= argc) UsageError(absl::StrCat(name, " needs a value"));
      return argv[++i];
    };
    if (name == "-s" || name == "--server") {
      options.server = take_value();
    } else if (name == "-k" || name == "--authkey-file" || name == "--authkey_file") {
      options.authkey_file = take_value();
    } else if (name == "--tls-ca-file" || name == "--tls_ca_file") {
      if (!options.tls) options.tls.emplace();
      options.tls->ca_file = take_value();
    } else if (name == "--tls-cert-file" || name == "--tls_cert_file") {
      if (!options.tls) options.tls.emplace();
      options.tls->cert_file = take_value();
    } else if (name == "--tls-key-file" || name == "--tls_key_file") {
      if (!options.tls) options.tls.emplace();
      options.tls->key_file = take_value();
    } else if (name == "--name") {
      options.name = take_value();
    } else if (name == "--timeout") {
      options.timeout = ParseTimeout(take_value());
    } else if (name == "--waiting") {
      int64_t n = 0;
      const std::string text = take_value();
      if (!absl::SimpleAtoi(text, &n) || n < 0) UsageError("--waiting: not a count: " + text);
      options.waiting = n;
    } else if (name == "--wait") {
      options.wait = true;
    } else if (name == "-h" || name == "--help") {
      options.command = "help";
    } else {
      UsageError(absl::StrCat("unknown option ", name));
    }
  }
  return options;
}

// The address from a positional argument, --server, $SHOAL_SERVER or the
// default, in that order.
std::string Address(const Options& options, size_t positional) {
  if (options.args.size() > positional + 1) UsageError("too many arguments");
  if (options.args.size() == positional + 1) return options.args[positional];
  return options.server.empty() ? kDefaultServer : options.server;
}

shoal::AuthKey Key(const Options& options) {
  if (!options.authkey_file.empty()) return shoal::AuthKey::from_file(options.authkey_file);
  const char* env = std::getenv("SHOAL_AUTHKEY");
  if (env == nullptr || env[0] == '\0') {
    UsageError("no authkey: give --authkey-file, $SHOAL_AUTHKEY_FILE or $SHOAL_AUTHKEY");
  }
  return shoal::AuthKey::from_env();
}

shoal::ConnectOptions Connect(const Options& options, const std::string& client_name) {
  shoal::ConnectOptions connect;
  connect.client_name = client_name;
  connect.timeout = absl::ToChronoMilliseconds(options.timeout);
  connect.tls = options.tls;
  return connect;
}

shoal::Manager Open(const Options& options, const std::string& address) {
  return shoal::Manager::connect(address, Key(options), Connect(options, "shoal " + options.command));
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "unknown-host";
  return host;
}

// Prints rows as columns separated by two spaces; the last column is not
// padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c + 1 == row.size()) {
        absl::StrAppend(&line, row[c]);
      } else {
        absl::StrAppend(&line, row[c], std::string(widths[c] - row[c].size() + 2, ' '));
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string NameOrId(const std::string& name, uint64_t id) {
  return name.empty() ? absl::StrCat("#", id) : name;
}

int Token(const Options& options) {
  const std::string address = Address(options, 0);
  const std::string name =
      options.name.empty() ? absl::StrCat(HostName(), " shoal token") : options.name;
  shoal::Login login = shoal::login(address, Key(options), Connect(options, name));
  std::printf("%s\n", login.token.c_str());
  return 0;
}

int List(const Options& options) {
  shoal::Manager manager = Open(options, Address(options, 0));
  std::vector<shoal::ObjectInfo> objects = manager.objects();
  std::sort(objects.begin(), objects.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (objects.empty()) {
    std::printf("no objects\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "KIND", "NAME", "SIZE", "REFS", "VALUE"}};
  for (const shoal::ObjectInfo& info : objects) {
    rows.push_back({absl::StrCat(info.id), shoal::KindName(info.kind),
                    info.name.empty() ? "-" : info.name, absl::StrCat(info.size),
                    absl::StrCat(info.session_refs + info.container_refs), info.repr});
  }
  PrintTable(rows);
  return 0;
}

shoal::ObjectInfo Describe(const shoal::Manager& manager, const std::string& name_or_id) {
  try {
    return manager.describe(name_or_id);
  } catch (const shoal::KeyError&) {
    uint64_t id = 0;
    if (!absl::SimpleAtoi(name_or_id, &id)) throw;
    return manager.describe(id);
  }
}

int Show(const Options& options) {
  if (options.args.empty()) UsageError("show needs the NAME or ID of an object");
  if (options.args.size() > 1) UsageError("too many arguments");
  shoal::Manager manager =
      Open(options, options.server.empty() ? kDefaultServer : options.server);
  shoal::ObjectInfo info = Describe(manager, options.args[0]);
  if (options.waiting.has_value()) {
    // Describe is the only view of the waiters; look again until enough
    // calls are parked.
    const absl::Time deadline = absl::Now() + options.timeout;
    while (info.waiting < *options.waiting) {
      if (absl::Now() >= deadline) {
        std::fprintf(stderr, "shoal: %s: %lld calls waiting, not %lld, after %s\n",
                     options.args[0].c_str(), static_cast<long long>(info.waiting),
                     static_cast<long long>(*options.waiting),
                     absl::FormatDuration(options.timeout).c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      info = manager.describe(info.id);
    }
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"name:", info.name.empty() ? "- (anonymous)" : info.name});
  rows.push_back({"id:", absl::StrCat(info.id)});
  rows.push_back({"kind:", shoal::KindName(info.kind)});
  if (!info.typecode.empty()) rows.push_back({"typecode:", info.typecode});
  if (!shoal::server::IsSyncKind(info.kind) || info.kind == shoal::Kind::kQueue ||
      info.kind == shoal::Kind::kJoinableQueue || info.kind == shoal::Kind::kConnection ||
      info.kind == shoal::Kind::kPool) {
    rows.push_back({"size:", absl::StrCat(info.size)});
  }
  rows.push_back({"refs:", absl::StrCat(info.session_refs, " from sessions, ",
                                        info.container_refs, " from objects")});
  rows.push_back({"value:", info.repr});
  if (shoal::server::IsSyncKind(info.kind)) {
    if (info.holders.empty()) {
      rows.push_back({"held by:", "nobody"});
    }
    for (size_t i = 0; i < info.holders.size(); ++i) {
      const shoal::Holder& holder = info.holders[i];
      rows.push_back({i == 0 ? "held by:" : "",
                      absl::StrCat("session ", holder.session_id, " (", holder.client, "), count ",
                                   holder.count)});
    }
    rows.push_back({"waiting:", absl::StrCat(info.waiting)});
  }
  PrintTable(rows);
  return 0;
}

int Sessions(const Options& options) {
  shoal::Manager manager = Open(options, Address(options, 0));
  std::vector<shoal::SessionInfo> sessions = manager.sessions();
  std::sort(sessions.begin(), sessions.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::vector<std::vector<std::string>> rows = {
      {"ID", "CLIENT", "PEER", "STREAMS", "EXPIRES", "REFS", "HOLDS"}};
  for (const shoal::SessionInfo& session : sessions) {
    std::vector<std::string> holds;
    for (const shoal::SessionHolding& h : session.holdings) {
      std::string what = absl::StrCat(NameOrId(h.name, h.object_id), " (",
                                      shoal::KindName(h.kind), ")");
      if (h.count > 0) absl::StrAppend(&what, " held ", h.count);
      if (h.waiting > 0) absl::StrAppend(&what, h.count > 0 ? "," : "", " waits ", h.waiting);
      holds.push_back(what);
    }
    rows.push_back({absl::StrCat(session.id), session.client, session.peer,
                    absl::StrCat(session.streams),
                    session.expires_in.has_value()
                        ? absl::StrFormat("in %.0f s", *session.expires_in)
                        : "-",
                    absl::StrCat(session.refs), holds.empty() ? "-" : absl::StrJoin(holds, "; ")});
  }
  PrintTable(rows);
  return 0;
}

// The whole of a file, for gRPC's TLS credentials; a usage error when it
// cannot be read.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) UsageError(absl::StrCat("cannot read ", path));
  return text.str();
}

// The health check's channel credentials: TLS as for a session (the options,
// then the environment), or none.
std::shared_ptr<grpc::ChannelCredentials> HealthCredentials(const Options& options) {
  shoal::TlsOptions tls = options.tls.value_or(shoal::TlsOptions());
  auto fill = [](std::string& field, const char* name) {
    const char* env = std::getenv(name);
    if (field.empty() && env != nullptr) field = env;
  };
  fill(tls.ca_file, "SHOAL_TLS_CA_FILE");
  fill(tls.cert_file, "SHOAL_TLS_CERT_FILE");
  fill(tls.key_file, "SHOAL_TLS_KEY_FILE");
  if (!options.tls && tls.ca_file.empty() && tls.cert_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) ssl.pem_root_certs = ReadFile(tls.ca_file);
  if (!tls.cert_file.empty()) ssl.pem_cert_chain = ReadFile(tls.cert_file);
  if (!tls.key_file.empty()) ssl.pem_private_key = ReadFile(tls.key_file);
  return grpc::SslCredentials(ssl);
}

int Health(const Options& options) {
  const std::string address = Address(options, 0);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, HealthCredentials(options)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  context.set_wait_for_ready(options.wait);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "shoal: %s: %s\n", address.c_str(), status.error_message().c_str());
    return 1;
  }
  std::printf("%s\n",
              grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // serve hands every argument after it to the server's own flag parser.
  if (argc >= 2 && std::string(argv[1]) == "serve") {
    absl::SetProgramUsageMessage(
        "Runs a shoal server (the same as shoal-server).\n"
        "Usage: shoal serve [--listen=HOST:PORT|unix:PATH] [--authkey-file=PATH]");
    return shoal::server::Serve(argc - 1, argv + 1);
  }
  const Options options = ParseOptions(argc, argv);
  try {
    if (options.command == "token") return Token(options);
    if (options.command == "ls") return List(options);
    if (options.command == "show") return Show(options);
    if (options.command == "sessions") return Sessions(options);
    if (options.command == "health") return Health(options);
    if (options.command == "help" || options.command.empty()) {
      std::fputs(kUsage, options.command.empty() ? stderr : stdout);
      return options.command.empty() ? 2 : 0;
    }
    UsageError(absl::StrCat("unknown command '", options.command, "'"));
  } catch (const shoal::Error& e) {
    std::fprintf(stderr, "shoal: %s: %s\n", e.kind().c_str(), e.what());
    return 1;
  }
}

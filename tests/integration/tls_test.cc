// TLS on both ports, with a test CA and certificates made here by the
// openssl command: both transports carry sessions over TLS, plaintext is
// refused in words, mutual TLS wants a certificate its CA signed, a
// certificate replaced on disk is served to new connections, and a server
// whose certificate another CA signed is not trusted.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "client/src/session_stream.h"
#include "integration/error_of.h"
#include "integration/framed_socket.h"
#include "integration/raw_client.h"
#include "integration/server_process.h"
#include "shoal/shoal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHOAL_TLS_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SHOAL_TLS_TEST_ASAN 1
#endif

namespace shoal::testing {
namespace {

using ::testing::HasSubstr;

// A CA and certificates it signs, in a directory of their own.
class TestPki {
 public:
  TestPki() {
    char dir[] = "/tmp/shoal-tls-XXXXXX";
    dir_ = mkdtemp(dir);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj '/CN=shoal test CA' -keyout ca.key -out ca.pem");
  }
  ~TestPki() { Run("rm -rf " + dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Makes NAME.pem and NAME.key: a certificate for cn signed by the CA, for
  // localhost and 127.0.0.1.
  void Issue(const std::string& name, const std::string& cn) {
    Run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=" + cn +
        "' -keyout " + name + ".key -out " + name + ".csr && printf "
        "'subjectAltName=DNS:localhost,IP:127.0.0.1' > " + name + ".ext && openssl x509 -req "
        "-in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile " +
        name + ".ext -out " + name + ".pem");
  }

  // Replaces the files at NAME.pem and NAME.key with those of from, each in
  // one rename.
  void Replace(const std::string& name, const std::string& from) {
    Run("cp " + from + ".pem " + name + ".pem.new && cp " + from + ".key " + name +
        ".key.new && mv " + name + ".key.new " + name + ".key && mv " + name + ".pem.new " +
        name + ".pem");
  }

 private:
  void Run(const std::string& command) const {
    const std::string line = "cd " + dir_ + " && (" + command + ") >/dev/null 2>&1";
    ASSERT_EQ(std::system(line.c_str()), 0) << command;
  }

  std::string dir_;
};

std::string Port(const std::string& address) { return address.substr(address.rfind(':') + 1); }

// The common name of the certificate a TLS server on 127.0.0.1:port
// presents, or "" when no handshake could be made (it is not checked: only
// seen).
std::string ServedName(uint32_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string name;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    static const unsigned char kH2[] = {2, 'h', '2'};
    SSL_set_alpn_protos(ssl, kH2, sizeof(kH2));
    if (SSL_connect(ssl) == 1) {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
        name = cn;
        X509_free(cert);
      }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  close(fd);
  return name;
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() {
    pki_.Issue("server", "shoal-server-one");
    pki_.Issue("client", "worker-1");
  }

  std::vector<std::string> ServerArgs(bool mutual) const {
    std::vector<std::string> args = {"--tls-cert-file=" + pki_.Path("server.pem"),
                                     "--tls-key-file=" + pki_.Path("server.key")};
    if (mutual) args.push_back("--tls-client-ca-file=" + pki_.Path("ca.pem"));
    return args;
  }

  ConnectOptions Options(Transport transport, bool with_certificate) const {
    ConnectOptions options;
    options.transport = transport;
    options.timeout = std::chrono::seconds(10);
    TlsOptions tls;
    tls.ca_file = pki_.Path("ca.pem");
    if (with_certificate) {
      tls.cert_file = pki_.Path("client.pem");
      tls.key_file = pki_.Path("client.key");
    }
    options.tls = tls;
    return options;
  }

  // The framed port a TLS server offers, from a login over TLS.
  uint32_t FramedPort(const ServerProcess& server, bool with_certificate) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(pki_.Path("ca.pem"));
    if (with_certificate) {
      ssl.pem_cert_chain = Read(pki_.Path("client.pem"));
      ssl.pem_private_key = Read(pki_.Path("client.key"));
    }
    RawClient raw(grpc::CreateChannel(server.address(), grpc::SslCredentials(ssl)));
    EXPECT_FALSE(raw.Login(server.authkey()).empty());
    return raw.last_answer().framed().port();
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // A dict set and read back through a session on transport.
  static void RoundTrip(const ServerProcess& server, const ConnectOptions& options) {
    Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()),
                                 options);
    DictProxy d = m.dict();
    d.set("k", 42);
    EXPECT_EQ(d.get("k").as_int(), 42);
  }

  TestPki pki_;
};

TEST_F(TlsTest, BothTransportsCarrySessionsOverTls) {
  ServerProcess server(ServerArgs(/*mutual=*/false));
  RoundTrip(server, Options(Transport::kFramed, false));
  RoundTrip(server, Options(Transport::kGrpcStream, false));
  // The framed port speaks TLS, with the server's certificate.
  EXPECT_EQ(ServedName(FramedPort(server, false)), "shoal-server-one");
  EXPECT_EQ(ServedName(std::stoul(Port(server.address()))), "shoal-server-one");
}

TEST_F(TlsTest, TheEnvironmentTurnsTlsOn) {
  ServerProcess server(ServerArgs(/*mutual=*/false));
  setenv("SHOAL_TLS_CA_FILE", pki_.Path("ca.pem").c_str(), 1);
  ConnectOptions options;
  options.transport = Transport::kFramed;
  RoundTrip(server, options);
  unsetenv("SHOAL_TLS_CA_FILE");
}

TEST_F(TlsTest, PlaintextIsRefusedInWordsOnBothPorts) {
  ServerProcess server(ServerArgs(/*mutual=*/false));
  ConnectOptions plain;
  plain.timeout = std::chrono::seconds(5);
  const std::string grpc_error = ErrorOf<ConnectionError>([&] {
    Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()), plain);
  });
  EXPECT_THAT(grpc_error, HasSubstr("the server may require TLS"));

  FramedSocket socket(FramedPort(server, false));
  ASSERT_TRUE(socket.connected());
  v1::ClientFrame hello;
  hello.mutable_challenge()->set_client_nonce(std::string(32, 'n'));
  ASSERT_TRUE(socket.Write(hello));
  v1::ServerFrame last;
  ASSERT_TRUE(socket.Read(&last));
  ASSERT_TRUE(last.has_end()) << last.ShortDebugString();
  EXPECT_THAT(last.end().message(), HasSubstr("ConnectionError: the server requires TLS"));
  // The server goes on serving TLS clients.
  RoundTrip(server, Options(Transport::kFramed, false));
}

TEST_F(TlsTest, APlaintextServerRefusesATlsClientInWords) {
  ServerProcess server;
  RawClient raw(server.address());
  ASSERT_FALSE(raw.Login(server.authkey()).empty());
  const v1::FramedEndpoint endpoint = raw.last_answer().framed();
  TlsOptions tls;
  tls.ca_file = pki_.Path("ca.pem");
  const std::string error = ErrorOf<ConnectionError>([&] {
    detail::LogInFramed(server.address(), endpoint, server.authkey(), "client",
                        std::chrono::system_clock::now() + std::chrono::seconds(10), {}, tls);
  });
  EXPECT_THAT(error, HasSubstr("TLS handshake failed"));
  EXPECT_THAT(error, HasSubstr("the server does not seem to use TLS"));
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  ServerProcess server(ServerArgs(/*mutual=*/true));
  for (Transport transport : {Transport::kFramed, Transport::kGrpcStream}) {
    ConnectOptions options = Options(transport, /*with_certificate=*/false);
    options.timeout = std::chrono::seconds(5);
    const std::string error = ErrorOf<ConnectionError>([&] {
      Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()), options);
    });
    EXPECT_THAT(error, HasSubstr("the server may require a client certificate"));
  }
  // On the framed port alone (its address learnt with a certificate), the
  // refusal names what is missing.
  const v1::FramedEndpoint endpoint = [&] {
    v1::FramedEndpoint framed;
    framed.set_port(FramedPort(server, /*with_certificate=*/true));
    return framed;
  }();
  TlsOptions tls;
  tls.ca_file = pki_.Path("ca.pem");
  const std::string error = ErrorOf<ConnectionError>([&] {
    detail::LogInFramed(server.address(), endpoint, server.authkey(), "client",
                        std::chrono::system_clock::now() + std::chrono::seconds(10), {}, tls);
  });
  EXPECT_THAT(error, HasSubstr("requires a client certificate"));
}

TEST_F(TlsTest, MutualTlsAcceptsAClientWithACertificate) {
  ServerProcess server(ServerArgs(/*mutual=*/true));
  RoundTrip(server, Options(Transport::kFramed, /*with_certificate=*/true));
  RoundTrip(server, Options(Transport::kGrpcStream, /*with_certificate=*/true));
}

TEST_F(TlsTest, AServerOfAnotherCaIsNotTrusted) {
  ServerProcess server(ServerArgs(/*mutual=*/false));
  TestPki other;
  ConnectOptions options;
  options.transport = Transport::kFramed;
  options.timeout = std::chrono::seconds(5);
  options.tls = TlsOptions{other.Path("ca.pem"), "", "", ""};
  const std::string grpc_error = ErrorOf<ConnectionError>([&] {
    Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()), options);
  });
  EXPECT_THAT(grpc_error, HasSubstr("certificate verify failed"));

  v1::FramedEndpoint endpoint;
  endpoint.set_port(FramedPort(server, false));
  const std::string framed_error = ErrorOf<ConnectionError>([&] {
    detail::LogInFramed(server.address(), endpoint, server.authkey(), "client",
                        std::chrono::system_clock::now() + std::chrono::seconds(10), {},
                        *options.tls);
  });
  EXPECT_THAT(framed_error, HasSubstr("the server's TLS certificate is not trusted"));
}

TEST_F(TlsTest, ACertificateReplacedOnDiskIsServedToNewConnections) {
  ServerProcess server(ServerArgs(/*mutual=*/false));
  const uint32_t framed = FramedPort(server, false);
  const uint32_t grpc = std::stoul(Port(server.address()));
  ASSERT_EQ(ServedName(framed), "shoal-server-one");
  Manager before = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()),
                                    Options(Transport::kFramed, false));
  DictProxy d = before.dict("kept");
  d.set("k", 1);

  pki_.Issue("next", "shoal-server-two");
  pki_.Replace("server", "next");
  // Each port takes the new files for its next connections: the framed port
  // at its next accept (it looks at most every 100 ms), gRPC within its
  // refresh (1 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool framed_new = false;
  bool grpc_new = false;
  while (!(framed_new && grpc_new) && std::chrono::steady_clock::now() < deadline) {
    framed_new = framed_new || ServedName(framed) == "shoal-server-two";
    grpc_new = grpc_new || ServedName(grpc) == "shoal-server-two";
    if (!(framed_new && grpc_new)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(framed_new);
  EXPECT_TRUE(grpc_new);
  // The session opened before goes on; new ones open with the new files.
  d.set("k", 2);
  RoundTrip(server, Options(Transport::kFramed, false));
  RoundTrip(server, Options(Transport::kGrpcStream, false));
  EXPECT_EQ(d.get("k").as_int(), 2);
}

TEST_F(TlsTest, AForkedChildConnectsWithTlsToo) {
#if defined(SHOAL_TLS_TEST_ASAN)
  GTEST_SKIP() << "AddressSanitizer's runtime is not fork-safe with busy threads";
#endif
  ServerProcess server(ServerArgs(/*mutual=*/true));
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()),
                               Options(Transport::kGrpcStream, /*with_certificate=*/true));
  DictProxy d = m.dict("from-child");
  const pid_t child = fork();
  if (child == 0) {
    int status = 1;
    try {
      d.set("child", static_cast<int64_t>(getpid()));
      status = 0;
    } catch (...) {
    }
    _exit(status);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(d.get("child").as_int(), child);
}

TEST(TlsStart, FilesThatCannotBeLoadedStopTheStart) {
  const ServerExit missing = RunServerToExit(
      {"--listen=127.0.0.1:0", "--tls-cert-file=/nonexistent/server.pem",
       "--tls-key-file=/nonexistent/server.key"});
  EXPECT_NE(missing.status, 0);
  EXPECT_THAT(missing.output, HasSubstr("cannot load the TLS certificate /nonexistent/server.pem"));
  const ServerExit half = RunServerToExit({"--listen=127.0.0.1:0", "--tls-cert-file=/x.pem"});
  EXPECT_NE(half.status, 0);
  EXPECT_THAT(half.output, HasSubstr("TLS needs both --tls-cert-file and --tls-key-file"));
}

}  // namespace
}  // namespace shoal::testing

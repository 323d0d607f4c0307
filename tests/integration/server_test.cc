// The server process itself: addresses, shutdown, health and reflection.
#include <sys/wait.h>

#include <cstdio>
#include <memory>

#include "integration/fixture.h"
#include "integration/raw_client.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace shoal::testing {
namespace {

// Runs a shell command and returns what it printed (stdout and stderr).
std::string RunCommand(const std::string& command, int* exit_code = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(ServerProcessTest, SigtermShutsDownGracefully) {
  ServerProcess server;
  Manager m = Manager::connect(server.address(), AuthKey::from_file(server.authkey_file()));
  m.list().append(1);
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ServerProcessTest, ServesOnAUnixSocket) {
  char dir[] = "/tmp/shoal-unix-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string address = std::string("unix:") + dir + "/shoal.sock";
  ServerProcess server({"--listen=" + address});
  EXPECT_EQ(server.address(), address);
  Manager m = Manager::connect(address, AuthKey::from_file(server.authkey_file()));
  ListProxy l = m.list();
  l.append("over a unix socket");
  EXPECT_EQ(l.len(), 1u);
  server.Stop();
  unlink((std::string(dir) + "/shoal.sock").c_str());
  rmdir(dir);
}

TEST(ServerProcessTest, HealthServiceReportsServing) {
  ServerProcess server;
  RawClient raw(server.address());
  auto health = grpc::health::v1::Health::NewStub(raw.channel());
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  request.set_service("shoal.v1.ListService");
  grpc::ClientContext again;
  ASSERT_TRUE(health->Check(&again, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  request.set_service("no.such.Service");
  grpc::ClientContext unknown;
  EXPECT_EQ(health->Check(&unknown, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ServerProcessTest, GrpcurlListsAndDescribesEveryService) {
  ServerProcess server;
  int code = -1;
  const std::string listed = RunCommand("grpcurl -plaintext " + server.address() + " list", &code);
  ASSERT_EQ(code, 0) << listed;
  for (const char* service :
       {"shoal.v1.Auth", "shoal.v1.Session", "shoal.v1.Manager", "shoal.v1.ListService",
        "shoal.v1.DictService", "shoal.v1.NamespaceService", "shoal.v1.ValueService",
        "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(listed.find(service), std::string::npos) << service << " missing from:\n" << listed;
  }
  const std::string described =
      RunCommand("grpcurl -plaintext " + server.address() + " describe shoal.v1.ListService", &code);
  ASSERT_EQ(code, 0) << described;
  EXPECT_NE(described.find("rpc Append ( .shoal.v1.ItemRequest ) returns ( .shoal.v1.EmptyReply )"),
            std::string::npos)
      << described;
  const std::string value =
      RunCommand("grpcurl -plaintext " + server.address() + " describe shoal.v1.Value", &code);
  ASSERT_EQ(code, 0) << value;
  EXPECT_NE(value.find("oneof kind"), std::string::npos) << value;
}

TEST(ServerProcessTest, GrpcurlCallsWithATokenAndErrorsNameThePythonKind) {
  ServerProcess server;
  RawClient raw(server.address());
  const std::string token = raw.Login(server.authkey());
  ASSERT_FALSE(token.empty());
  const std::string call = "grpcurl -plaintext -H 'authorization: Bearer " + token + "' ";
  int code = -1;
  std::string out = RunCommand(call + "-d '{\"kind\":\"LIST\",\"name\":\"jobs\"}' " + server.address() +
                            " shoal.v1.Manager/Create",
                        &code);
  ASSERT_EQ(code, 0) << out;
  out = RunCommand(call + "-d '{\"name\":\"jobs\",\"item\":{\"str\":\"task\"}}' " + server.address() +
                " shoal.v1.ListService/Append",
            &code);
  ASSERT_EQ(code, 0) << out;
  out = RunCommand(call + "-d '{\"name\":\"jobs\",\"index\":5}' " + server.address() +
                " shoal.v1.ListService/GetItem",
            &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("OutOfRange"), std::string::npos) << out;
  EXPECT_NE(out.find("IndexError: list index out of range"), std::string::npos) << out;
  out = RunCommand(call + "-d '{\"name\":\"jobs\",\"index\":0}' " + server.address() +
                " shoal.v1.ListService/GetItem",
            &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"str\": \"task\""), std::string::npos) << out;
}

}  // namespace
}  // namespace shoal::testing

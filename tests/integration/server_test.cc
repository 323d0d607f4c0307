// The server process itself: addresses, shutdown, health and reflection.
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/error_of.h"
#include "integration/fixture.h"
#include "integration/raw_client.h"
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>

#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace shoal::testing {
namespace {

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

// Asks one reflection service, on one stream, for the service list, the file
// of LockService, an unknown symbol and a file by name; checks each answer.
template <class Service, class Request, class Response>
void CheckReflection(const std::string& address) {
  auto stub = Service::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  Request request;
  Response response;

  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_THAT(services, ::testing::IsSupersetOf({"shoal.v1.LockService", "shoal.v1.Manager",
                                                 "grpc.reflection.v1.ServerReflection",
                                                 "grpc.reflection.v1alpha.ServerReflection"}));
  EXPECT_THAT(services, ::testing::Not(::testing::Contains("google.rpc.Status")));

  request.set_file_containing_symbol("shoal.v1.LockService.Acquire");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
  std::vector<std::string> files;
  google::protobuf::FileDescriptorProto lock_file;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.push_back(file.name());
    if (file.name() == "shoal/v1/lock.proto") lock_file = file;
  }
  // The file first, then what it imports, each once.
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0], "shoal/v1/lock.proto");
  EXPECT_THAT(files, ::testing::IsSupersetOf({"shoal/v1/object.proto", "shoal/v1/sync.proto"}));
  EXPECT_EQ(std::set<std::string>(files.begin(), files.end()).size(), files.size());
  // The comments of the source travel with it.
  bool commented = false;
  for (const auto& location : lock_file.source_code_info().location()) {
    if (location.leading_comments().find("fencing token") != std::string::npos) commented = true;
  }
  EXPECT_TRUE(commented) << "no comment of lock.proto in the reflected descriptor";

  request.set_file_containing_symbol("shoal.v1.NoSuchThing");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);

  request.set_file_by_filename("shoal/v1/value.proto");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GE(response.file_descriptor_response().file_descriptor_proto_size(), 1);
  EXPECT_EQ(response.original_request().file_by_filename(), "shoal/v1/value.proto");

  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ServerProcessTest, ReflectionServesCommentedDescriptorsInBothVersions) {
  ServerProcess server;
  CheckReflection<grpc::reflection::v1::ServerReflection,
                  grpc::reflection::v1::ServerReflectionRequest,
                  grpc::reflection::v1::ServerReflectionResponse>(server.address());
  CheckReflection<grpc::reflection::v1alpha::ServerReflection,
                  grpc::reflection::v1alpha::ServerReflectionRequest,
                  grpc::reflection::v1alpha::ServerReflectionResponse>(server.address());
}

TEST(ServerProcessTest, GrpcurlListsAndDescribesEveryService) {
  ServerProcess server;
  int code = -1;
  const std::string listed = RunCommand("grpcurl -plaintext " + server.address() + " list", &code);
  ASSERT_EQ(code, 0) << listed;
  for (const char* service :
       {"shoal.v1.Auth", "shoal.v1.Session", "shoal.v1.Manager", "shoal.v1.ListService",
        "shoal.v1.DictService", "shoal.v1.NamespaceService", "shoal.v1.ValueService",
        "shoal.v1.ArrayService", "shoal.v1.PoolService", "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection"}) {
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
  // The comments of the .proto files come through reflection.
  EXPECT_NE(described.find("// lst.append(item)"), std::string::npos) << described;
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

// Every method the client library declares (client/src/methods.h) exists in
// the proto, under the service and name its path gives, with the request and
// response messages the declaration carries. The protos are read from the
// descriptor set the build embeds (all of them, as the server's reflection
// serves them), not from the messages this program happens to link.
#include "client/src/methods.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace shoal::embedded {
extern const unsigned char kDescriptorSet[];
extern const std::size_t kDescriptorSet_size;
}  // namespace shoal::embedded

namespace shoal::detail {
namespace {

// Every proto file of the build, in a pool of its own.
const google::protobuf::DescriptorPool& ProtoPool() {
  static const google::protobuf::DescriptorPool* const pool = [] {
    auto* built = new google::protobuf::DescriptorPool();
    google::protobuf::FileDescriptorSet set;
    if (!set.ParseFromArray(embedded::kDescriptorSet,
                            static_cast<int>(embedded::kDescriptorSet_size))) {
      ADD_FAILURE() << "the embedded descriptor set does not parse";
      return built;
    }
    // protoc lists every file after the files it imports.
    for (const google::protobuf::FileDescriptorProto& file : set.file()) {
      if (built->BuildFile(file) == nullptr) ADD_FAILURE() << "cannot build " << file.name();
    }
    return built;
  }();
  return *pool;
}

// The descriptor of the method a path names ("/shoal.v1.DictService/SetItem"),
// or null, with why in *why.
const google::protobuf::MethodDescriptor* Find(absl::string_view path, std::string* why) {
  const size_t slash = path.rfind('/');
  if (!absl::StartsWith(path, "/") || slash == 0 || slash == absl::string_view::npos) {
    *why = "not of the form /package.Service/Method";
    return nullptr;
  }
  const std::string service_name(path.substr(1, slash - 1));
  const std::string method_name(path.substr(slash + 1));
  const google::protobuf::ServiceDescriptor* service = ProtoPool().FindServiceByName(service_name);
  if (service == nullptr) {
    *why = "no service " + service_name;
    return nullptr;
  }
  const google::protobuf::MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr) *why = service_name + " has no method " + method_name;
  return method;
}

TEST(Methods, EveryMethodIsInTheProtoWithItsMessages) {
  int count = 0;
  std::set<absl::string_view> paths;
  ForEachMethod([&](const auto& method) {
    using M = std::decay_t<decltype(method)>;
    ++count;
    SCOPED_TRACE(std::string(method.path));
    EXPECT_TRUE(paths.insert(method.path).second) << "declared twice";
    std::string why;
    const google::protobuf::MethodDescriptor* found = Find(method.path, &why);
    ASSERT_NE(found, nullptr) << why;
    EXPECT_FALSE(found->client_streaming() || found->server_streaming()) << "not a unary method";
    EXPECT_EQ(found->input_type()->full_name(), M::Request::descriptor()->full_name())
        << "the request message differs";
    EXPECT_EQ(found->output_type()->full_name(), M::Response::descriptor()->full_name())
        << "the response message differs";
  });
  EXPECT_GT(count, 0);
}

// Each object service the client calls is declared whole, so that no
// operation is reached by a path typed elsewhere.
TEST(Methods, EveryMethodOfTheObjectServicesIsDeclared) {
  std::set<std::string> declared;
  ForEachMethod([&](const auto& method) { declared.insert(std::string(method.path)); });
  for (const char* service_name :
       {"shoal.v1.Manager", "shoal.v1.ListService", "shoal.v1.DictService",
        "shoal.v1.NamespaceService", "shoal.v1.ValueService", "shoal.v1.LockService",
        "shoal.v1.RLockService", "shoal.v1.SemaphoreService", "shoal.v1.BoundedSemaphoreService",
        "shoal.v1.ConditionService", "shoal.v1.EventService", "shoal.v1.BarrierService",
        "shoal.v1.QueueService", "shoal.v1.JoinableQueueService",
        "shoal.v1.ConnectionService", "shoal.v1.ArrayService", "shoal.v1.PoolService"}) {
    const google::protobuf::ServiceDescriptor* service =
        ProtoPool().FindServiceByName(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string path = "/" + service->full_name() + "/" + service->method(i)->name();
      EXPECT_TRUE(declared.count(path) == 1) << path << " is not declared in methods.h";
    }
  }
}

}  // namespace
}  // namespace shoal::detail

// gRPC server reflection (grpc.reflection.v1 and v1alpha), answered from the
// descriptor set the build embeds: every .proto of the protocol with its
// imports and the comments of its source. gRPC's own reflection serves the
// descriptors compiled into the program, which keep no comments; this one
// lets `grpcurl describe` show what each service, operation and field does.
#ifndef SHOAL_SERVER_TRANSPORT_REFLECTION_SERVICE_H_
#define SHOAL_SERVER_TRANSPORT_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace shoal::server {

// The embedded descriptor set, parsed once; immutable afterwards, so it may
// be read from any thread.
class ReflectionIndex {
 public:
  ReflectionIndex();
  ReflectionIndex(const ReflectionIndex&) = delete;
  ReflectionIndex& operator=(const ReflectionIndex&) = delete;

  // The fully qualified name of every service the set defines, sorted.
  const std::vector<std::string>& services() const { return services_; }

  // A file by name, then every file it imports, directly or not, each once:
  // serialized FileDescriptorProto messages. NOT_FOUND for an unknown name.
  absl::StatusOr<std::vector<const std::string*>> FileByName(const std::string& name) const;
  // The same for the file defining a symbol: a package-qualified service,
  // method, message, field, enum or enum value.
  absl::StatusOr<std::vector<const std::string*>> FileContainingSymbol(
      const std::string& symbol) const;
  absl::StatusOr<std::vector<const std::string*>> FileContainingExtension(
      const std::string& containing_type, int number) const;
  // The extension numbers defined for a message type (none in this protocol).
  absl::StatusOr<std::vector<int>> ExtensionNumbers(const std::string& type) const;

 private:
  std::vector<const std::string*> WithImports(const google::protobuf::FileDescriptor* file) const;

  google::protobuf::DescriptorPool pool_;
  // File name to its serialized FileDescriptorProto, source info included.
  absl::flat_hash_map<std::string, std::string> serialized_;
  std::vector<std::string> services_;
};

// The service of one reflection package; both share one index.
template <class Service, class Request, class Response>
class ReflectionService : public Service::CallbackService {
 public:
  explicit ReflectionService(const ReflectionIndex& index) : index_(index) {}
  grpc::ServerBidiReactor<Request, Response>* ServerReflectionInfo(
      grpc::CallbackServerContext* context) override;

 private:
  const ReflectionIndex& index_;
};

using ReflectionServiceV1 =
    ReflectionService<grpc::reflection::v1::ServerReflection,
                      grpc::reflection::v1::ServerReflectionRequest,
                      grpc::reflection::v1::ServerReflectionResponse>;
using ReflectionServiceV1Alpha =
    ReflectionService<grpc::reflection::v1alpha::ServerReflection,
                      grpc::reflection::v1alpha::ServerReflectionRequest,
                      grpc::reflection::v1alpha::ServerReflectionResponse>;

extern template class ReflectionService<grpc::reflection::v1::ServerReflection,
                                        grpc::reflection::v1::ServerReflectionRequest,
                                        grpc::reflection::v1::ServerReflectionResponse>;
extern template class ReflectionService<grpc::reflection::v1alpha::ServerReflection,
                                        grpc::reflection::v1alpha::ServerReflectionRequest,
                                        grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_REFLECTION_SERVICE_H_

#include "server/transport/reflection_service.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace shoal::embedded {
extern const unsigned char kDescriptorSet[];
extern const std::size_t kDescriptorSet_size;
}  // namespace shoal::embedded

namespace shoal::server {

using google::protobuf::FileDescriptor;

ReflectionIndex::ReflectionIndex() {
  google::protobuf::FileDescriptorSet set;
  // The set is made by protoc in the same build; failing to read it is a
  // broken build, not a condition to serve around.
  if (!set.ParseFromArray(embedded::kDescriptorSet,
                          static_cast<int>(embedded::kDescriptorSet_size))) {
    std::fprintf(stderr, "shoal-server: the embedded descriptor set does not parse\n");
    std::abort();
  }
  // protoc lists every file after the files it imports.
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    const FileDescriptor* built = pool_.BuildFile(file);
    if (built == nullptr) {
      std::fprintf(stderr, "shoal-server: cannot build descriptor %s\n", file.name().c_str());
      std::abort();
    }
    serialized_[file.name()] = file.SerializeAsString();
    for (int i = 0; i < built->service_count(); ++i) {
      services_.push_back(built->service(i)->full_name());
    }
  }
  std::sort(services_.begin(), services_.end());
}

std::vector<const std::string*> ReflectionIndex::WithImports(const FileDescriptor* file) const {
  std::vector<const std::string*> out;
  absl::flat_hash_set<const FileDescriptor*> seen = {file};
  std::vector<const FileDescriptor*> order = {file};
  for (size_t i = 0; i < order.size(); ++i) {
    for (int d = 0; d < order[i]->dependency_count(); ++d) {
      const FileDescriptor* dependency = order[i]->dependency(d);
      if (seen.insert(dependency).second) order.push_back(dependency);
    }
  }
  for (const FileDescriptor* f : order) out.push_back(&serialized_.at(f->name()));
  return out;
}

absl::StatusOr<std::vector<const std::string*>> ReflectionIndex::FileByName(
    const std::string& name) const {
  const FileDescriptor* file = pool_.FindFileByName(name);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no file ", name));
  return WithImports(file);
}

absl::StatusOr<std::vector<const std::string*>> ReflectionIndex::FileContainingSymbol(
    const std::string& symbol) const {
  const FileDescriptor* file = pool_.FindFileContainingSymbol(symbol);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no symbol ", symbol));
  return WithImports(file);
}

absl::StatusOr<std::vector<const std::string*>> ReflectionIndex::FileContainingExtension(
    const std::string& containing_type, int number) const {
  const google::protobuf::Descriptor* type = pool_.FindMessageTypeByName(containing_type);
  if (type == nullptr) return absl::NotFoundError(absl::StrCat("no type ", containing_type));
  const google::protobuf::FieldDescriptor* extension = pool_.FindExtensionByNumber(type, number);
  if (extension == nullptr) {
    return absl::NotFoundError(absl::StrCat("no extension ", number, " of ", containing_type));
  }
  return WithImports(extension->file());
}

absl::StatusOr<std::vector<int>> ReflectionIndex::ExtensionNumbers(const std::string& type) const {
  const google::protobuf::Descriptor* descriptor = pool_.FindMessageTypeByName(type);
  if (descriptor == nullptr) return absl::NotFoundError(absl::StrCat("no type ", type));
  std::vector<const google::protobuf::FieldDescriptor*> extensions;
  pool_.FindAllExtensions(descriptor, &extensions);
  std::vector<int> numbers;
  for (const auto* extension : extensions) numbers.push_back(extension->number());
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

namespace {

// Fills response for request from index.
template <class Request, class Response>
void Answer(const ReflectionIndex& index, const Request& request, Response* response) {
  response->Clear();
  response->set_valid_host(request.host());
  *response->mutable_original_request() = request;
  absl::StatusOr<std::vector<const std::string*>> files;
  switch (request.message_request_case()) {
    case Request::kListServices:
      for (const std::string& name : index.services()) {
        response->mutable_list_services_response()->add_service()->set_name(name);
      }
      return;
    case Request::kAllExtensionNumbersOfType: {
      absl::StatusOr<std::vector<int>> numbers =
          index.ExtensionNumbers(request.all_extension_numbers_of_type());
      if (numbers.ok()) {
        auto* out = response->mutable_all_extension_numbers_response();
        out->set_base_type_name(request.all_extension_numbers_of_type());
        for (int number : *numbers) out->add_extension_number(number);
        return;
      }
      files = numbers.status();
      break;
    }
    case Request::kFileByFilename:
      files = index.FileByName(request.file_by_filename());
      break;
    case Request::kFileContainingSymbol:
      files = index.FileContainingSymbol(request.file_containing_symbol());
      break;
    case Request::kFileContainingExtension:
      files = index.FileContainingExtension(request.file_containing_extension().containing_type(),
                                            request.file_containing_extension().extension_number());
      break;
    default:
      files = absl::InvalidArgumentError("the request asks for nothing");
      break;
  }
  if (files.ok()) {
    for (const std::string* file : *files) {
      response->mutable_file_descriptor_response()->add_file_descriptor_proto(*file);
    }
    return;
  }
  response->mutable_error_response()->set_error_code(static_cast<int>(files.status().code()));
  response->mutable_error_response()->set_error_message(std::string(files.status().message()));
}

// Answers each request as it comes, one at a time; ends when the client ends
// its side.
template <class Request, class Response>
class ReflectionReactor : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit ReflectionReactor(const ReflectionIndex& index) : index_(index) {
    this->StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status::OK);
      return;
    }
    Answer(index_, request_, &response_);
    this->StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    this->StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  const ReflectionIndex& index_;
  Request request_;
  Response response_;
};

}  // namespace

template <class Service, class Request, class Response>
grpc::ServerBidiReactor<Request, Response>*
ReflectionService<Service, Request, Response>::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new ReflectionReactor<Request, Response>(index_);
}

template class ReflectionService<grpc::reflection::v1::ServerReflection,
                                 grpc::reflection::v1::ServerReflectionRequest,
                                 grpc::reflection::v1::ServerReflectionResponse>;
template class ReflectionService<grpc::reflection::v1alpha::ServerReflection,
                                 grpc::reflection::v1alpha::ServerReflectionRequest,
                                 grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace shoal::server

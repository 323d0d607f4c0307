// A small structure-aware mutator for the fuzz targets whose input is a
// protobuf message: libFuzzer's byte-level mutations rarely keep a message
// parseable, so a target installs LLVMFuzzerCustomMutator and hands the input
// here. An input that parses as the target's message has one field changed
// through reflection (a number, a string, a repeated field's size, a oneof's
// case, or a bytes field that holds a message of its own) and is serialized
// again; one that does not parse, and a share of the others, get libFuzzer's
// own mutations.
#ifndef SHOAL_FUZZ_PROTO_MUTATOR_H_
#define SHOAL_FUZZ_PROTO_MUTATOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace shoal::fuzz {

// Drops protobuf's log lines (such as the invalid UTF-8 of a fuzzed string
// field), which would drown the fuzzer's output.
void QuietProtobuf();

class ProtoMutator {
 public:
  // Strings worth trying in a string field (such as method paths), by the
  // field's full name ("shoal.v1.Call.method").
  void AddStrings(const std::string& field, std::vector<std::string> values);
  // A bytes field that holds a serialized message whose type depends on its
  // parent (Call.request, by Call.method): type names that type, or null
  // when the bytes are opaque.
  using NestedType =
      std::function<const google::protobuf::Descriptor*(const google::protobuf::Message& parent)>;
  void AddNested(const std::string& field, NestedType type);

  // Mutates the input of LLVMFuzzerCustomMutator in place, as an instance of
  // prototype's type; returns the new size (at most max_size).
  size_t Mutate(const google::protobuf::Message& prototype, uint8_t* data, size_t size,
                size_t max_size, unsigned seed) const;

 private:
  // Changes one field somewhere in message; false when nothing changed.
  bool MutateMessage(google::protobuf::Message& message, std::minstd_rand& rng, int depth) const;
  void MutateField(google::protobuf::Message& message, const google::protobuf::FieldDescriptor* field,
                   std::minstd_rand& rng, int depth) const;
  std::string MutateString(const google::protobuf::FieldDescriptor* field, std::string value,
                           std::minstd_rand& rng) const;

  std::vector<std::pair<std::string, std::vector<std::string>>> strings_;
  std::vector<std::pair<std::string, NestedType>> nested_;
};

}  // namespace shoal::fuzz

#endif  // SHOAL_FUZZ_PROTO_MUTATOR_H_

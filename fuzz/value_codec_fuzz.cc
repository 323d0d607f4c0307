// The Value codec (shared/value_codec.cc) and the Value model (shared/value.cc)
// on hostile input: the input is a serialized shoal.v1.Value. What decodes
// must encode, decode again to an equal value, and encode to the same bytes;
// its hash, repr, truthiness and comparison with itself must not crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/proto_mutator.h"
#include "shared/value_codec.h"
#include "shoal/v1/value.pb.h"
#include "shoal/value.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "value_codec_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

std::string Serialized(const shoal::v1::Value& wire) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  wire.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Whether a value holds a float NaN anywhere: NaN is not equal to itself,
// in shoal as in Python, so such values are compared by their encoding only.
bool HasNan(const shoal::Value& value) {
  if (value.is_float()) return value.as_float() != value.as_float();
  if (value.is_list()) {
    for (const shoal::Value& item : value.as_list()) {
      if (HasNan(item)) return true;
    }
  }
  if (value.is_dict()) {
    for (const auto& [key, item] : value.as_dict()) {
      if (HasNan(key) || HasNan(item)) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shoal::fuzz::QuietProtobuf();
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned seed) {
  static const shoal::fuzz::ProtoMutator mutator;
  return mutator.Mutate(shoal::v1::Value::default_instance(), data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoal::v1::Value wire;
  if (!wire.ParseFromArray(data, static_cast<int>(size))) return -1;
  absl::StatusOr<shoal::Value> value = shoal::DecodeValue(wire);
  if (!value.ok()) return 0;

  // What the model offers every value must hold for this one too.
  (void)value->repr();
  (void)value->truthy();
  (void)value->contains_ref();
  if (value->hashable()) (void)value->hash();
  (void)shoal::Value::Compare(*value, *value);
  const shoal::Value copy = *value;

  shoal::v1::Value once;
  shoal::EncodeValue(*value, &once);
  absl::StatusOr<shoal::Value> again = shoal::DecodeValue(once);
  if (!again.ok()) Fail("an encoded value does not decode", again.status().ToString());
  if (!HasNan(*value) && !(*again == *value)) {
    Fail("a value changed on its way through the codec", value->repr() + " vs " + again->repr());
  }
  if (!HasNan(copy) && !(copy == *value)) Fail("a copy differs", value->repr());
  shoal::v1::Value twice;
  shoal::EncodeValue(*again, &twice);
  if (Serialized(once) != Serialized(twice)) {
    Fail("encoding is not stable", once.ShortDebugString() + " vs " + twice.ShortDebugString());
  }
  if (again->repr() != value->repr()) Fail("repr changed", value->repr() + " vs " + again->repr());
  return 0;
}

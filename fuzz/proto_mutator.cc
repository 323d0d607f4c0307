#include "fuzz/proto_mutator.h"

#include "google/protobuf/stubs/logging.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace shoal::fuzz {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Nested messages deeper than this are changed as a whole, not entered.
constexpr int kMaxDepth = 24;

template <typename T>
T MutateInt(T value, std::minstd_rand& rng) {
  using Limits = std::numeric_limits<T>;
  // Wrapping arithmetic: a signed overflow here would be the mutator's own
  // undefined behaviour.
  using U = std::make_unsigned_t<T>;
  switch (rng() % 8) {
    case 0:
      return static_cast<T>(static_cast<U>(value) + 1);
    case 1:
      return static_cast<T>(static_cast<U>(value) - 1);
    case 2:
      return static_cast<T>(static_cast<U>(value) ^ (U{1} << (rng() % (sizeof(T) * 8))));
    case 3: {
      const T interesting[] = {0, 1, static_cast<T>(-1), 2, 16, 64, 255, 256, 1000,
                               Limits::max(), Limits::min(), static_cast<T>(Limits::max() - 1)};
      return interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
    }
    case 4:
      return static_cast<T>((static_cast<uint64_t>(rng()) << 32) | rng());
    default:
      // Small numbers name the objects and call ids that exist.
      return static_cast<T>(rng() % 32);
  }
}

double MutateDouble(double value, std::minstd_rand& rng) {
  switch (rng() % 8) {
    case 0:
      return std::numeric_limits<double>::quiet_NaN();
    case 1:
      return rng() % 2 ? std::numeric_limits<double>::infinity()
                       : -std::numeric_limits<double>::infinity();
    case 2:
      return -value;
    case 3: {
      const double interesting[] = {0.0,    -0.0,  0.001, 0.5,   1.0,   1e9,
                                    1e300, -1e300, 5e-324, 1e18, -1.0, 9.3e18};
      return interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
    }
    case 4:
      return value * 2;
    default:
      return static_cast<double>(static_cast<int>(rng() % 64) - 16) / 4;
  }
}

// Whether s is well-formed UTF-8 in its byte patterns (protobuf also
// refuses overlong forms and surrogates; those are rare enough).
bool IsUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                        : (c & 0xf8) == 0xf0                 ? 3
                                                             : 4;
    if (more == 4 || i + more >= s.size()) return false;
    for (size_t k = 1; k <= more; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += more + 1;
  }
  return true;
}

}  // namespace

void QuietProtobuf() { google::protobuf::SetLogHandler(nullptr); }

void ProtoMutator::AddStrings(const std::string& field, std::vector<std::string> values) {
  strings_.emplace_back(field, std::move(values));
}

void ProtoMutator::AddNested(const std::string& field, NestedType type) {
  nested_.emplace_back(field, std::move(type));
}

size_t ProtoMutator::Mutate(const Message& prototype, uint8_t* data, size_t size,
                            size_t max_size, unsigned seed) const {
  std::minstd_rand rng(seed);
  // Byte-level changes now and then, for what reflection cannot reach
  // (unknown fields, malformed encodings).
  if (rng() % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
  std::unique_ptr<Message> message(prototype.New());
  if (!message->ParseFromArray(data, static_cast<int>(size))) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const int changes = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < changes; ++i) {
    for (int tries = 0; tries < 4 && !MutateMessage(*message, rng, 0); ++tries) {
    }
  }
  std::string out;
  if (!message->SerializeToString(&out) || out.size() > max_size) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

bool ProtoMutator::MutateMessage(Message& message, std::minstd_rand& rng, int depth) const {
  const Descriptor* type = message.GetDescriptor();
  if (type->field_count() == 0) return false;
  const FieldDescriptor* field = type->field(static_cast<int>(rng() % type->field_count()));
  const Reflection* reflection = message.GetReflection();
  // Mostly go down into a sub-message that is there, so deep fields change
  // as often as shallow ones.
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth < kMaxDepth &&
      rng() % 3 != 0) {
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      if (n > 0) {
        return MutateMessage(
            *reflection->MutableRepeatedMessage(&message, field, static_cast<int>(rng() % n)),
            rng, depth + 1);
      }
    } else if (reflection->HasField(message, field)) {
      return MutateMessage(*reflection->MutableMessage(&message, field), rng, depth + 1);
    }
  }
  MutateField(message, field, rng, depth);
  return true;
}

std::string ProtoMutator::MutateString(const FieldDescriptor* field, std::string value,
                                       std::minstd_rand& rng) const {
  for (const auto& [name, values] : strings_) {
    if (name == field->full_name() && !values.empty() && rng() % 2 == 0) {
      return values[rng() % values.size()];
    }
  }
  switch (rng() % 6) {
    case 0:
      return std::string();
    case 1:
      return std::string(1 + rng() % 4, static_cast<char>('a' + rng() % 26));
    case 2:
      return value + value;
    default: {
      const size_t room = value.size() + 16;
      value.resize(room);
      const size_t n = LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(value.data()),
                                        room - 16, room);
      value.resize(n);
      return value;
    }
  }
}

void ProtoMutator::MutateField(Message& message, const FieldDescriptor* field,
                               std::minstd_rand& rng, int depth) const {
  const Reflection* r = message.GetReflection();
  int index = -1;  // The singular field; else the element to change.
  if (field->is_repeated()) {
    const int n = r->FieldSize(message, field);
    const unsigned op = rng() % 4;
    if (op == 0 && n > 0) {
      // Drop a random element: swap it to the end and remove the last.
      r->SwapElements(&message, field, static_cast<int>(rng() % n), n - 1);
      r->RemoveLast(&message, field);
      return;
    }
    if (op == 1 && n > 1) {
      r->SwapElements(&message, field, static_cast<int>(rng() % n), static_cast<int>(rng() % n));
      return;
    }
    if (n == 0 || op == 2) {
      index = -2;  // Add one.
    } else {
      index = static_cast<int>(rng() % n);
    }
  } else if (rng() % 8 == 0) {
    r->ClearField(&message, field);
    return;
  }

#define SHOAL_SET(Type, value_expr, getter)                                          \
  do {                                                                               \
    if (index == -1) {                                                               \
      auto current = r->Get##getter(message, field);                                 \
      (void)current;                                                                 \
      r->Set##getter(&message, field, value_expr);                                   \
    } else if (index == -2) {                                                        \
      Type current{};                                                                \
      (void)current;                                                                 \
      r->Add##getter(&message, field, value_expr);                                   \
    } else {                                                                         \
      auto current = r->GetRepeated##getter(message, field, index);                  \
      (void)current;                                                                 \
      r->SetRepeated##getter(&message, field, index, value_expr);                    \
    }                                                                                \
  } while (0)

  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      SHOAL_SET(int32_t, MutateInt<int32_t>(current, rng), Int32);
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      SHOAL_SET(int64_t, MutateInt<int64_t>(current, rng), Int64);
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      SHOAL_SET(uint32_t, MutateInt<uint32_t>(current, rng), UInt32);
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      SHOAL_SET(uint64_t, MutateInt<uint64_t>(current, rng), UInt64);
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      SHOAL_SET(double, MutateDouble(current, rng), Double);
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      SHOAL_SET(float, static_cast<float>(MutateDouble(current, rng)), Float);
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      SHOAL_SET(bool, !current, Bool);
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* values = field->enum_type();
      const int number = rng() % 4 != 0 ? values->value(static_cast<int>(rng() % values->value_count()))->number()
                                        : MutateInt<int32_t>(0, rng);
      SHOAL_SET(int, number, EnumValue);
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      // A bytes field that carries a message of its own is changed as that
      // message, when it parses.
      const Descriptor* nested = nullptr;
      for (const auto& [name, type] : nested_) {
        if (name == field->full_name()) nested = type(message);
      }
      std::string current = index == -1   ? r->GetString(message, field)
                            : index == -2 ? std::string()
                                          : r->GetRepeatedString(message, field, index);
      std::string next;
      bool done = false;
      if (nested != nullptr && rng() % 4 != 0) {
        std::unique_ptr<Message> inner(
            google::protobuf::MessageFactory::generated_factory()->GetPrototype(nested)->New());
        if (inner->ParseFromString(current)) {
          MutateMessage(*inner, rng, depth + 1);
          done = inner->SerializeToString(&next);
        }
      }
      if (!done) next = MutateString(field, std::move(current), rng);
      if (field->type() == FieldDescriptor::TYPE_STRING && !IsUtf8(next)) {
        // A string field must stay UTF-8 for the message to parse: keep the
        // ASCII bits.
        for (char& c : next) c = static_cast<char>(c & 0x7f);
      }
      if (index == -1) {
        r->SetString(&message, field, std::move(next));
      } else if (index == -2) {
        r->AddString(&message, field, std::move(next));
      } else {
        r->SetRepeatedString(&message, field, index, std::move(next));
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* inner = index == -1   ? r->MutableMessage(&message, field)
                       : index == -2 ? r->AddMessage(&message, field)
                                     : r->MutableRepeatedMessage(&message, field, index);
      if (depth < kMaxDepth && rng() % 2 == 0) MutateMessage(*inner, rng, depth + 1);
      return;
    }
  }
#undef SHOAL_SET
}

}  // namespace shoal::fuzz

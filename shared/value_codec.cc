#include "shared/value_codec.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "shared/error_kind.h"

namespace shoal {
namespace {

// Whether kind is a number of shoal.v1.Kind that names objects. The numbers
// have gaps, so each is listed; -Wswitch points here when a kind is added.
bool IsKnownKind(int kind) {
  switch (static_cast<Kind>(kind)) {
    case Kind::kList:
    case Kind::kDict:
    case Kind::kNamespace:
    case Kind::kValue:
    case Kind::kLock:
    case Kind::kRLock:
    case Kind::kSemaphore:
    case Kind::kBoundedSemaphore:
    case Kind::kCondition:
    case Kind::kEvent:
    case Kind::kBarrier:
    case Kind::kQueue:
    case Kind::kJoinableQueue:
    case Kind::kConnection:
    case Kind::kPipe:
    case Kind::kArray:
    case Kind::kPool:
      return true;
    case Kind::kUnspecified:
      return false;
  }
  return false;
}

// depth counts the containers around wire; recursion stops at max_depth, so
// the stack use is bounded whatever the message holds.
absl::StatusOr<Value> Decode(const v1::Value& wire, int depth, int max_depth) {
  switch (wire.kind_case()) {
    case v1::Value::KIND_NOT_SET:
    case v1::Value::kNone:
      return Value();
    case v1::Value::kBool:
      return Value(wire.bool_());
    case v1::Value::kInt:
      return Value(wire.int_());
    case v1::Value::kFloat:
      return Value(wire.float_());
    case v1::Value::kStr:
      return Value(wire.str());
    case v1::Value::kBytes:
      return Value::bytes(wire.bytes());
    case v1::Value::kRef: {
      const v1::ObjectRef& ref = wire.ref();
      if (ref.id() == 0) return error::ValueError("object reference without an id");
      if (!IsKnownKind(static_cast<int>(ref.kind()))) {
        return error::ValueError(absl::StrCat("object reference #", ref.id(),
                                              " has unknown kind ", static_cast<int>(ref.kind())));
      }
      ObjectRef out;
      out.id = ref.id();
      out.kind = static_cast<Kind>(ref.kind());
      return Value(std::move(out));
    }
    case v1::Value::kList:
    case v1::Value::kDict:
      break;
  }
  if (depth >= max_depth) return error::ValueError(TooDeepMessage());
  if (wire.kind_case() == v1::Value::kList) {
    Value::List items;
    items.reserve(static_cast<size_t>(wire.list().items_size()));
    for (const v1::Value& item : wire.list().items()) {
      absl::StatusOr<Value> decoded = Decode(item, depth + 1, max_depth);
      if (!decoded.ok()) return decoded.status();
      items.push_back(*std::move(decoded));
    }
    return Value(std::move(items));
  }
  ValueDict dict;
  dict.reserve(static_cast<size_t>(wire.dict().entries_size()));
  for (const v1::Entry& entry : wire.dict().entries()) {
    absl::StatusOr<Value> key = Decode(entry.key(), depth + 1, max_depth);
    if (!key.ok()) return key.status();
    if (!key->hashable()) {
      return error::TypeError(absl::StrCat("unhashable type: '", key->type_name(), "'"));
    }
    absl::StatusOr<Value> value = Decode(entry.value(), depth + 1, max_depth);
    if (!value.ok()) return value.status();
    // A repeated key keeps its first position and takes the last value, as
    // in a Python dict display.
    dict.set(*std::move(key), *std::move(value));
  }
  return Value(std::move(dict));
}

// depth counts the containers around value. Returns false, leaving wire
// partly filled, when a container lies at depth max_depth or deeper.
bool Encode(const Value& value, v1::Value* wire, int depth, int max_depth) {
  switch (value.type()) {
    case Value::Type::kNone:
      wire->set_none(true);
      break;
    case Value::Type::kBool:
      wire->set_bool_(value.as_bool());
      break;
    case Value::Type::kInt:
      wire->set_int_(value.as_int());
      break;
    case Value::Type::kFloat:
      wire->set_float_(value.as_float());
      break;
    case Value::Type::kStr:
      wire->set_str(value.as_str());
      break;
    case Value::Type::kBytes:
      wire->set_bytes(value.as_bytes());
      break;
    case Value::Type::kList: {
      if (depth >= max_depth) return false;
      v1::ListValue* list = wire->mutable_list();
      list->mutable_items()->Reserve(static_cast<int>(value.as_list().size()));
      for (const Value& item : value.as_list()) {
        if (!Encode(item, list->add_items(), depth + 1, max_depth)) return false;
      }
      break;
    }
    case Value::Type::kDict: {
      if (depth >= max_depth) return false;
      v1::DictValue* dict = wire->mutable_dict();
      dict->mutable_entries()->Reserve(static_cast<int>(value.as_dict().size()));
      for (const auto& [key, item] : value.as_dict()) {
        v1::Entry* entry = dict->add_entries();
        if (!Encode(key, entry->mutable_key(), depth + 1, max_depth) ||
            !Encode(item, entry->mutable_value(), depth + 1, max_depth)) {
          return false;
        }
      }
      break;
    }
    case Value::Type::kRef: {
      const ObjectRef& ref = value.as_ref();
      v1::ObjectRef* out = wire->mutable_ref();
      out->set_id(ref.id);
      out->set_kind(static_cast<v1::Kind>(ref.kind));
      break;
    }
  }
  return true;
}

}  // namespace

bool ParseCarryingValues(absl::string_view bytes, google::protobuf::MessageLite* message) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  input.SetRecursionLimit(kMaxMessageDepth);
  return message->ParseFromCodedStream(&input) && input.ConsumedEntireMessage();
}

std::string MalformedMessage(absl::string_view what) {
  return absl::StrCat("malformed ", what, ", or values nested deeper than ", kMaxValueDepth,
                      " levels");
}

std::string TooDeepMessage() {
  return absl::StrCat("values nested deeper than ", kMaxValueDepth, " levels");
}

absl::StatusOr<Value> DecodeValue(const v1::Value& wire) {
  return Decode(wire, 0, kMaxValueDepth);
}

absl::StatusOr<Value> DecodeReplyValue(const v1::Value& wire) {
  return Decode(wire, 0, kMaxValueDepth + kReplyNesting);
}

void EncodeValue(const Value& value, v1::Value* wire) {
  // Start from an empty message so nothing of an earlier value survives.
  wire->Clear();
  // The values a server holds decoded within kMaxValueDepth; no limit here.
  Encode(value, wire, 0, std::numeric_limits<int>::max());
}

absl::Status EncodeValueToSend(const Value& value, v1::Value* wire) {
  wire->Clear();
  if (!Encode(value, wire, 0, kMaxValueDepth)) {
    wire->Clear();
    return error::ValueError(TooDeepMessage());
  }
  return absl::OkStatus();
}

}  // namespace shoal

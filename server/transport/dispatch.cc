#include "server/transport/dispatch.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shared/mutex.h"
#include "shared/packed_values.h"
#include "shared/utf8.h"
#include "shared/value_codec.h"

namespace shoal::server {

absl::StatusOr<Value> CallContext::Store(const v1::Value& wire, Object& target) const {
  absl::StatusOr<Value> value = DecodeValue(wire);
  if (!value.ok() || !value->contains_ref()) return value;
  absl::Status refs = core_.registry().BindRefs(*value);
  if (!refs.ok()) return refs;
  target.MarkMayHoldRefs();
  return value;
}

absl::StatusOr<Value> CallContext::Read(const v1::Value& wire) const { return DecodeValue(wire); }

void CallContext::Give(const Value& value, v1::Value* wire) const {
  EncodeValue(value, wire);
  core_.registry().RetainRefs(session_, value);
}

namespace {

// A table that does not match its proto is a programming error that no test
// should be able to miss: fail at start-up, naming the difference.
[[noreturn]] void TableMismatch(const std::string& what) {
  std::fprintf(stderr, "shoal-server: dispatch table mismatch: %s\n", what.c_str());
  std::abort();
}

}  // namespace

DispatchTable::DispatchTable(std::string service, std::vector<Method> rows)
    : service_(std::move(service)), rows_(std::move(rows)) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_);
  if (descriptor == nullptr) TableMismatch(absl::StrCat("no service ", service_));
  if (static_cast<size_t>(descriptor->method_count()) != rows_.size()) {
    TableMismatch(absl::StrCat(service_, " has ", descriptor->method_count(),
                               " methods but ", rows_.size(), " rows"));
  }
  for (const Method& row : rows_) {
    const std::string prefix = absl::StrCat("/", service_, "/");
    if (row.path.rfind(prefix, 0) != 0) TableMismatch(row.path);
    const google::protobuf::MethodDescriptor* method =
        descriptor->FindMethodByName(row.path.substr(prefix.size()));
    if (method == nullptr) TableMismatch(absl::StrCat("no method for row ", row.path));
    if (method->input_type() != row.request_type || method->output_type() != row.response_type) {
      TableMismatch(absl::StrCat(row.path, " has other message types than its row"));
    }
  }
}

Dispatcher::Dispatcher(std::vector<const DispatchTable*> tables) : tables_(std::move(tables)) {
  for (const DispatchTable* table : tables_) {
    for (const Method& row : table->rows()) by_path_[row.path] = &row;
  }
}

const Method* Dispatcher::Find(absl::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

void FitReply(int64_t max_message_bytes, absl::Status& status, std::string& out) {
  const int64_t limit = max_message_bytes - 1024;
  if (status.ok() && static_cast<int64_t>(out.size()) > limit) {
    status = error::LimitError(absl::StrCat("the reply would take ", out.size(),
                                            " bytes, past the server's message limit; "
                                            "read large objects in slices"));
    out.clear();
  }
}

void Dispatcher::Invoke(const Method& method, CallContext& context, absl::string_view request,
                        ReplyFn reply) const {
  if (!method.under_collector_lock) {
    if (!context.SessionAlive()) {
      reply(MakeError(ErrorKind::kAuthenticationError, "session ended"), std::string());
      return;
    }
    method.invoke(context, request, std::move(reply));
    return;
  }
  ReaderMutexLock lock(&context.core().registry().collector_mutex());
  // Checked under the collector lock: Core::EndSession takes it exclusively
  // once the session is marked ended, so a call either parks before the
  // session's waits are cancelled, or finds the session ended here.
  if (!context.SessionAlive()) {
    reply(MakeError(ErrorKind::kAuthenticationError, "session ended"), std::string());
    return;
  }
  method.invoke(context, request, std::move(reply));
}

namespace {

thread_local FoundObjects* t_found_objects = nullptr;

}  // namespace

FoundObjects::FoundObjects() : outer_(std::exchange(t_found_objects, this)) {}

FoundObjects::~FoundObjects() { t_found_objects = outer_; }

FoundObjects* FoundObjects::Current() { return t_found_objects; }

absl::StatusOr<std::shared_ptr<Object>> FoundObjects::Find(const Registry& registry,
                                                            uint64_t id, absl::string_view name,
                                                            Kind kind) {
  // Read before Find: a change after it makes the answer remembered stale.
  const uint64_t generation = registry.generation();
  if (registry_ == &registry && generation_ == generation && id_ == id && kind_ == kind &&
      name_ == name) {
    // The registry still holds the object (nothing came or went since it
    // was found): this succeeds unless the registry is being destroyed.
    if (std::shared_ptr<Object> object = object_.lock()) return object;
  }
  absl::StatusOr<std::shared_ptr<Object>> object = registry.Find(id, std::string(name), kind);
  if (object.ok()) {
    registry_ = &registry;
    generation_ = generation;
    id_ = id;
    name_.assign(name.data(), name.size());
    kind_ = kind;
    object_ = *object;
  }
  return object;
}

absl::StatusOr<std::shared_ptr<Object>> FindNamedInWire(const CallContext& context,
                                                        absl::string_view request, Kind kind) {
  uint64_t id = 0;
  absl::string_view name;
  WireReader in(request);
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view part;
    uint64_t scalar = 0;
    if (!in.Field(&number, &type, &part, &scalar)) {
      return MalformedRequest();
    }
    // Later occurrences win, as protobuf's parser has it.
    if (number == 1 && type == kWireVarint) id = scalar;
    if (number == 2 && type == kWireLengthDelimited) {
      if (!IsValidUtf8(std::string_view(part.data(), part.size()))) {
        return MalformedRequest();
      }
      name = part;
    }
  }
  const Registry& registry = context.core().registry();
  if (FoundObjects* const found = FoundObjects::Current()) {
    return found->Find(registry, id, name, kind);
  }
  return registry.Find(id, std::string(name), kind);
}

bool WireFields(absl::string_view request, std::initializer_list<uint32_t> numbers,
                WireParts* parts) {
  WireReader in(request);
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view part;
    if (!in.Field(&number, &type, &part)) return false;
    size_t i = 0;
    for (uint32_t wanted : numbers) {
      if (number == wanted) {
        if (type != kWireLengthDelimited) return false;
        parts[i].push_back(part);
        break;
      }
      ++i;
    }
  }
  return true;
}

namespace {

// The value a field's occurrences hold: a plain one read straight from the
// wire, else the message decode makes of them (merged, as protobuf merges
// them).
template <typename Decode>
absl::Status DecodeWireValue(const WireParts& parts, Decode decode,
                             Value* out) {
  if (parts.size() == 1 && DecodePlainValue(parts[0], /*check_utf8=*/true, out)) {
    return absl::OkStatus();
  }
  std::string merged;
  absl::string_view bytes;
  if (parts.size() == 1) {
    bytes = parts[0];
  } else {
    for (absl::string_view part : parts) merged.append(part.data(), part.size());
    bytes = merged;
  }
  v1::Value wire;
  if (!ParseCarryingValues(bytes, &wire)) {
    return MalformedRequest();
  }
  absl::StatusOr<Value> decoded = decode(wire);
  if (!decoded.ok()) return decoded.status();
  *out = *std::move(decoded);
  return absl::OkStatus();
}

}  // namespace

absl::Status StoreWireValue(const CallContext& context, Object& target,
                            const WireParts& parts, Value* out) {
  return DecodeWireValue(
      parts, [&](const v1::Value& wire) { return context.Store(wire, target); }, out);
}

absl::Status ReadWireValue(const CallContext& context,
                           const WireParts& parts, Value* out) {
  return DecodeWireValue(
      parts, [&](const v1::Value& wire) { return context.Read(wire); }, out);
}

std::string ValueReplyBytes(const CallContext& context, const Value& value) {
  switch (value.type()) {
    case Value::Type::kNone:
    case Value::Type::kBool:
    case Value::Type::kInt:
    case Value::Type::kFloat:
    case Value::Type::kStr:
    case Value::Type::kBytes: {
      std::string plain;
      (void)AppendPackedValue(value, &plain);  // never fails for a plain value
      std::string out;
      out.reserve(plain.size() + 6);
      out.push_back(WireTag(v1::ValueReply::kValueFieldNumber, kWireLengthDelimited));
      AppendVarint(plain.size(), &out);
      out.append(plain);
      return out;
    }
    default: {
      v1::ValueReply reply;
      context.Give(value, reply.mutable_value());
      return reply.SerializeAsString();
    }
  }
}

}  // namespace shoal::server

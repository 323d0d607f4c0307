#include "client/src/wire_request.h"

#include "client/src/object_handle.h"
#include "shared/packed_values.h"
#include "shoal/errors.h"

namespace shoal::detail {

void AppendValueField(int number, const Value& value, std::string* scratch, std::string* out) {
  // A plain value's size is known before it is written: no copy through
  // scratch.
  if (std::optional<size_t> size = PlainValueSize(value)) {
    out->push_back(WireTag(number, kWireLengthDelimited));
    AppendVarint(*size, out);
    (void)AppendPackedValue(value, out);  // never fails for a plain value
    return;
  }
  scratch->clear();
  if (absl::Status encoded = AppendPackedValue(value, scratch); !encoded.ok()) {
    throw ValueError(std::string(encoded.message()));
  }
  out->push_back(WireTag(number, kWireLengthDelimited));
  AppendVarint(scratch->size(), out);
  out->append(*scratch);
}

SerializedRequest ObjectRequestBytes(const AsyncTarget& target) {
  SerializedRequest request;
  request.bytes.push_back(WireTag(1, kWireVarint));
  AppendVarint(target.handle->id(), &request.bytes);
  return request;
}

std::optional<SerializedRequest> ValuesRequest(
    const AsyncTarget& target, std::initializer_list<std::pair<int, const Value*>> fields) {
  for (const auto& [number, value] : fields) {
    if (value->contains_ref()) return std::nullopt;
  }
  SerializedRequest request = ObjectRequestBytes(target);
  std::string scratch;
  for (const auto& [number, value] : fields) {
    AppendValueField(number, *value, &scratch, &request.bytes);
  }
  return request;
}

}  // namespace shoal::detail

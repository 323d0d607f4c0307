#include "server/objects/typecode.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "shared/error_kind.h"

namespace shoal::server {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// The integer C type T, its range cut where an int64 ends.
template <typename T>
constexpr IntType IntTypeFor() {
  constexpr auto max = std::numeric_limits<T>::max();
  return IntType{static_cast<int>(sizeof(T)), std::numeric_limits<T>::is_signed,
                 static_cast<int64_t>(std::numeric_limits<T>::min()),
                 static_cast<uint64_t>(max) > static_cast<uint64_t>(kInt64Max)
                     ? kInt64Max
                     : static_cast<int64_t>(max)};
}

}  // namespace

std::optional<IntType> IntTypeOf(const std::string& typecode) {
  if (typecode.size() != 1) return std::nullopt;
  switch (typecode[0]) {
    case 'b':
      return IntTypeFor<int8_t>();
    case 'B':
      return IntTypeFor<uint8_t>();
    case 'h':
      return IntTypeFor<int16_t>();
    case 'H':
      return IntTypeFor<uint16_t>();
    case 'i':
      return IntTypeFor<int32_t>();
    case 'I':
      return IntTypeFor<uint32_t>();
    case 'l':
    case 'q':
      return IntTypeFor<int64_t>();
    case 'L':
    case 'Q':
      return IntTypeFor<uint64_t>();
    default:
      return std::nullopt;
  }
}

absl::Status WrongTypeFor(const std::string& typecode, absl::string_view wanted,
                          const Value& value) {
  return error::TypeError(
      absl::StrCat("typecode '", typecode, "' needs ", wanted, ", not '", value.type_name(), "'"));
}

absl::StatusOr<int64_t> IntFor(const std::string& typecode, int64_t min, int64_t max,
                               ShowRange show_range, const Value& value) {
  if (!value.is_int() && !value.is_bool()) return WrongTypeFor(typecode, "an int", value);
  const int64_t i = value.as_int();
  if (i < min || i > max) {
    std::string message = absl::StrCat(i, " is out of range for typecode '", typecode, "'");
    if (show_range == ShowRange::kYes) absl::StrAppend(&message, " (", min, " to ", max, ")");
    return error::OverflowError(message);
  }
  return i;
}

}  // namespace shoal::server

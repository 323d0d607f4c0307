// What Value and Array share of Python's typecodes: the integer codes' C
// types, and the check that puts a Value into one, written once so that the
// two kinds agree on every range and error.
//
// The integer typecodes are those of Python's array module with the sizes of
// Linux x86-64 (LP64): b B (1 byte), h H (2), i I (4), l L q Q (8). The
// unsigned L and Q stop at INT64_MAX, the largest int a Value holds. Plain
// functions of their arguments; thread-safe.
#ifndef SHOAL_SERVER_OBJECTS_TYPECODE_H_
#define SHOAL_SERVER_OBJECTS_TYPECODE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shoal/value.h"

namespace shoal::server {

// The C integer type an integer typecode stores.
struct IntType {
  // Bytes per item, and whether the C type is signed.
  int size = 0;
  bool is_signed = true;
  // The ints a Value can put in it.
  int64_t min = 0;
  int64_t max = 0;
};

// The C type of an integer typecode (b B h H i I l L q Q); nullopt for any
// other typecode.
std::optional<IntType> IntTypeOf(const std::string& typecode);

// TypeError "typecode 'i' needs an int, not 'str'": value is not of the
// type the typecode holds, which `wanted` names.
absl::Status WrongTypeFor(const std::string& typecode, absl::string_view wanted,
                          const Value& value);

// Whether an OverflowError names the typecode's range after it.
enum class ShowRange : bool { kNo, kYes };

// value as an int of typecode, whose range is [min, max]: a bool counts as
// an int. WrongTypeFor's TypeError for another type; OverflowError "300 is
// out of range for typecode 'b'" outside the range, ending in " (-128 to
// 127)" with ShowRange::kYes.
absl::StatusOr<int64_t> IntFor(const std::string& typecode, int64_t min, int64_t max,
                               ShowRange show_range, const Value& value);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_TYPECODE_H_

// Helpers shared by the object tests: status assertions that name the error
// kind, and printing of Values in test failures as their Python repr.
#ifndef SHOAL_TESTS_UNIT_OBJECTS_TEST_UTIL_H_
#define SHOAL_TESTS_UNIT_OBJECTS_TEST_UTIL_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "shared/error_kind.h"
#include "shoal/value.h"

namespace shoal {

// gtest prints Values (and containers of them) as Python would.
inline void PrintTo(const Value& value, std::ostream* os) { *os << value.repr(); }

namespace testing_util {

inline ::testing::AssertionResult IsOk(const absl::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status;
}

template <typename T>
::testing::AssertionResult IsOk(const absl::StatusOr<T>& result) {
  return IsOk(result.status());
}

// Whether status failed with the given kind and exactly the given message.
inline ::testing::AssertionResult IsError(const absl::Status& status, ErrorKind kind,
                                          absl::string_view message) {
  if (ErrorKindOf(status) != kind) {
    return ::testing::AssertionFailure() << "kind " << ErrorKindName(ErrorKindOf(status))
                                         << ", want " << ErrorKindName(kind) << ": " << status;
  }
  if (status.message() != message) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\", want \"" << message << "\"";
  }
  return ::testing::AssertionSuccess();
}

template <typename T>
::testing::AssertionResult IsError(const absl::StatusOr<T>& result, ErrorKind kind,
                                   absl::string_view message) {
  return IsError(result.status(), kind, message);
}

// Whether status failed with the given kind, whatever the message.
inline ::testing::AssertionResult IsKind(const absl::Status& status, ErrorKind kind) {
  if (ErrorKindOf(status) == kind) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "kind " << ErrorKindName(ErrorKindOf(status)) << ", want "
                                       << ErrorKindName(kind) << ": " << status;
}

template <typename T>
::testing::AssertionResult IsKind(const absl::StatusOr<T>& result, ErrorKind kind) {
  return IsKind(result.status(), kind);
}

// The Python type names of items, comma-separated: tells 1, 1.0 and True
// apart where == cannot.
inline std::string TypeNames(const std::vector<Value>& items) {
  std::string out;
  for (const Value& item : items) {
    if (!out.empty()) out += ",";
    out += item.type_name();
  }
  return out;
}

// [0, 1, ..., n - 1]
inline Value::List Range(int n) {
  Value::List items;
  for (int i = 0; i < n; ++i) items.push_back(Value(i));
  return items;
}

}  // namespace testing_util
}  // namespace shoal

#endif  // SHOAL_TESTS_UNIT_OBJECTS_TEST_UTIL_H_

// The integer typecodes and the ints each holds, as Python's array module
// gives them on Linux x86-64, for the tests of what takes a typecode (Value,
// Array and their shared table). Written out here, apart from the server's
// table, so that the tests check that table instead of repeating it.
#ifndef SHOAL_TESTS_UNIT_OBJECTS_INT_TYPECODES_H_
#define SHOAL_TESTS_UNIT_OBJECTS_INT_TYPECODES_H_

#include <cstdint>
#include <limits>

namespace shoal::server::testing {

struct IntRange {
  const char* typecode;
  int64_t min;
  int64_t max;
};

// The unsigned L and Q stop at INT64_MAX, the largest int a Value holds.
inline constexpr IntRange kIntRanges[] = {
    {"b", -128, 127},
    {"B", 0, 255},
    {"h", -32768, 32767},
    {"H", 0, 65535},
    {"i", -2147483648LL, 2147483647LL},
    {"I", 0, 4294967295LL},
    {"l", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
    {"L", 0, std::numeric_limits<int64_t>::max()},
    {"q", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
    {"Q", 0, std::numeric_limits<int64_t>::max()},
};

}  // namespace shoal::server::testing

#endif  // SHOAL_TESTS_UNIT_OBJECTS_INT_TYPECODES_H_

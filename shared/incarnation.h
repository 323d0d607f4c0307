// A server's incarnation: 64 random bits chosen at each start of the server,
// never 0. Object ids count up from 1 at every start, so an id alone names
// different objects before and after a restart; an id with the incarnation it
// was given under names one object of one server's life. Tokens carry it
// ("list:7@3f9a0c2e5b1d7a64"), the login's answer tells it, and a lookup by
// id that names another incarnation is refused.
//
// It is written as 16 lowercase hex digits, always 16.
#ifndef SHOAL_SHARED_INCARNATION_H_
#define SHOAL_SHARED_INCARNATION_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace shoal {

// A new incarnation, from OpenSSL's CSPRNG; never 0. Aborts the process if
// the generator fails (as RandomBytes does).
uint64_t NewIncarnation();

// incarnation as 16 lowercase hex digits.
std::string FormatIncarnation(uint64_t incarnation);

// The incarnation text names: exactly 16 hex digits (either case). False,
// leaving *incarnation alone, for any other text.
bool ParseIncarnation(absl::string_view text, uint64_t* incarnation);

}  // namespace shoal

#endif  // SHOAL_SHARED_INCARNATION_H_

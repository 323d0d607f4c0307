// Tokens: how a proxy's object is named to another process, as text,
// "kind:id@incarnation" ("list:7@3f9a0c2e5b1d7a64"): the kind's Python name
// (KindName), the object's id, and the incarnation of the server that gave
// the id (shared/incarnation.h), as 16 hex digits. Ids count from 1 again at
// every start of the server; the incarnation keeps a token from before a
// restart from naming whatever object has its id now (Manager/Lookup refuses
// it). A token without the incarnation is malformed, so that none can
// resolve across a restart.
#ifndef SHOAL_CLIENT_SRC_TOKEN_H_
#define SHOAL_CLIENT_SRC_TOKEN_H_

#include <cstdint>
#include <string>

#include "shoal/value.h"

namespace shoal::detail {

struct Token {
  Kind kind = Kind::kUnspecified;
  uint64_t id = 0;
  uint64_t incarnation = 0;
};

// "list:7@3f9a0c2e5b1d7a64".
std::string FormatToken(Kind kind, uint64_t id, uint64_t incarnation);

// The parts of a token. ValueError, saying what is wrong, when it is
// malformed: no kind of that name, an id that is not a positive number, or
// no incarnation of 16 hex digits after "@".
Token ParseToken(const std::string& token);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_TOKEN_H_

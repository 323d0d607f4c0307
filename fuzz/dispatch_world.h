// What the dispatch fuzz target runs calls against, and what the corpus
// generator makes its seed calls for: a real Core with every dispatch table,
// and a few named objects of each kind created through the Manager table, so
// fuzzed calls have targets (the ends of a Pipe are anonymous: the pipe has
// the name). No network: calls go in as the session stream's
// frames (server/transport/session_core.h).
#ifndef SHOAL_FUZZ_DISPATCH_WORLD_H_
#define SHOAL_FUZZ_DISPATCH_WORLD_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "server/core/core.h"
#include "server/transport/dispatch.h"
#include "shoal/value.h"

namespace shoal::fuzz {

// A dispatch table and the kind of object its rows operate on
// (kUnspecified for the Manager's).
struct TableKind {
  const server::DispatchTable* table;
  Kind kind;
};
const std::vector<TableKind>& AllTables();
// Every method path of every table.
std::vector<std::string> AllPaths();

// The named objects created for each kind.
inline constexpr int kObjectsPerKind = 2;
// The name of object index (0 or 1) of kind: "list0", "Lock1", ...
std::string ObjectName(Kind kind, int index);

class World {
 public:
  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  server::Core& core() { return core_; }
  const server::Dispatcher& dispatcher() const { return dispatcher_; }
  // The id of object index of kind.
  uint64_t id(Kind kind, int index) const;

 private:
  server::Core core_;
  server::Dispatcher dispatcher_;
  server::SessionId owner_ = 0;
  // By kind and index.
  std::map<std::pair<Kind, int>, uint64_t> ids_;
};

}  // namespace shoal::fuzz

#endif  // SHOAL_FUZZ_DISPATCH_WORLD_H_

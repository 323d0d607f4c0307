// PipeObject is a shared Pipe as Manager.Create makes it: the pair of
// Connection ends (ConnectionObject) made together, held by reference as a
// dict holds the objects stored in it. The ends do the work; the pipe is what
// a name stands for, so that a named pipe keeps its ends alive until the name
// is deleted, and every session that creates the pipe by its name gets the
// same two ends.
//
// Thread-safety: immutable after construction.
#ifndef SHOAL_SERVER_OBJECTS_PIPE_OBJECT_H_
#define SHOAL_SERVER_OBJECTS_PIPE_OBJECT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "server/objects/object.h"
#include "shoal/value.h"

namespace shoal::server {

class PipeObject : public Object {
 public:
  // ends is the list of references to the two ends, bound by the registry
  // (Registry::BindRefs): first receives (and, when duplex, sends), second
  // sends (and, when duplex, receives).
  PipeObject(bool duplex, Value ends);

  bool duplex() const { return duplex_; }
  uint64_t first() const { return ends_.as_list()[0].as_ref().id; }
  uint64_t second() const { return ends_.as_list()[1].as_ref().id; }

  // Object:
  std::string Repr() const override;  // <Pipe duplex, ends #5 and #6>
  int64_t Size() const override { return 0; }
  // Both ends.
  void ForEachRef(const std::function<void(const ObjectRef&)>& fn) const override;

 private:
  const bool duplex_;
  const Value ends_;
};

}  // namespace shoal::server

#endif  // SHOAL_SERVER_OBJECTS_PIPE_OBJECT_H_

#include "server/objects/pipe_object.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace shoal::server {

PipeObject::PipeObject(bool duplex, Value ends)
    : Object(Kind::kPipe), duplex_(duplex), ends_(std::move(ends)) {
  // Its ends are references the collector must follow.
  MarkMayHoldRefs();
}

std::string PipeObject::Repr() const {
  return absl::StrCat("<Pipe ", duplex_ ? "duplex" : "one-way", ", ends #", first(), " and #",
                      second(), ">");
}

void PipeObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  ends_.ForEachRef(fn);
}

}  // namespace shoal::server

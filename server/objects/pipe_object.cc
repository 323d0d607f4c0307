#include "server/objects/pipe_object.h"

#include "absl/strings/str_cat.h"

namespace shoal::server {

PipeObject::PipeObject(bool duplex, uint64_t first, uint64_t second)
    : Object(Kind::kPipe), duplex_(duplex), first_(first), second_(second) {
  // Its ends are references the collector must follow.
  MarkMayHoldRefs();
}

std::string PipeObject::Repr() const {
  return absl::StrCat("<Pipe ", duplex_ ? "duplex" : "one-way", ", ends #", first_, " and #",
                      second_, ">");
}

void PipeObject::ForEachRef(const std::function<void(const ObjectRef&)>& fn) const {
  fn(ObjectRef{first_, Kind::kConnection, nullptr});
  fn(ObjectRef{second_, Kind::kConnection, nullptr});
}

}  // namespace shoal::server

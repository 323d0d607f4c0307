// A protobuf Arena that starts in a buffer of its own, so that one on the
// stack costs no allocation until its messages outgrow the buffer: a request
// or reply of many Values (an update, an extend) is built or parsed without
// an allocation per Value, and freed at once. The server parses every request
// on one; the client builds its bulk requests on one.
//
// Not thread-safe: one StackArena belongs to one call on one thread.
#ifndef SHOAL_SHARED_STACK_ARENA_H_
#define SHOAL_SHARED_STACK_ARENA_H_

#include <cstddef>

#include "google/protobuf/arena.h"

namespace shoal {

class StackArena {
 public:
  StackArena() : arena_(Options(initial_, sizeof initial_)) {}
  StackArena(const StackArena&) = delete;
  StackArena& operator=(const StackArena&) = delete;

  // A new message of type M, freed with the arena.
  template <class M>
  M* Create() {
    return google::protobuf::Arena::CreateMessage<M>(&arena_);
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  alignas(16) char initial_[4096];
  google::protobuf::Arena arena_;
};

}  // namespace shoal

#endif  // SHOAL_SHARED_STACK_ARENA_H_

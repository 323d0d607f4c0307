// A completion that hands its outcome to a future, for tests whose threads
// wait for their own parked calls.
#ifndef SHOAL_TESTS_UNIT_OBJECTS_PROMISED_H_
#define SHOAL_TESTS_UNIT_OBJECTS_PROMISED_H_

#include <future>
#include <utility>

#include "server/objects/waiting.h"

namespace shoal::server::testing {

// The completion and the future its outcome arrives in.
inline std::pair<Completion, std::future<Outcome>> Promised() {
  std::promise<Outcome> promise;
  std::future<Outcome> future = promise.get_future();
  // The promise lives in the completion, which outlives the call to it.
  Completion done = [promise = std::move(promise)](Outcome outcome) mutable {
    promise.set_value(std::move(outcome));
  };
  return {std::move(done), std::move(future)};
}

}  // namespace shoal::server::testing

#endif  // SHOAL_TESTS_UNIT_OBJECTS_PROMISED_H_

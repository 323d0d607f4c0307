// Waiting for the server to show calls parked on an object, so that a test
// goes on once a call has parked instead of sleeping and hoping it has. Each
// wait is bounded: it fails, saying what it last saw, after kParkPatience.
#ifndef SHOAL_TESTS_INTEGRATION_WAITING_H_
#define SHOAL_TESTS_INTEGRATION_WAITING_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "shoal/shoal.h"

namespace shoal::testing {

// How long a test waits for the server to show the calls it expects parked.
inline constexpr std::chrono::seconds kParkPatience{30};

// Asks waiting_now, again and again, how many calls the server shows waiting
// on what, until it says want; fails once kParkPatience has passed without.
::testing::AssertionResult AwaitWaiting(const std::string& what, int64_t want,
                                        const std::function<int64_t()>& waiting_now);

// The same for the object of a proxy, or the object named name, asked of the
// server through m (Manager::describe).
::testing::AssertionResult AwaitWaiting(const Manager& m, const ObjectProxy& object,
                                        int64_t want);
::testing::AssertionResult AwaitWaiting(const Manager& m, const std::string& name,
                                        int64_t want);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_WAITING_H_

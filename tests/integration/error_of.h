// What a call threw, for tests that check an error's kind and words.
#ifndef SHOAL_TESTS_INTEGRATION_ERROR_OF_H_
#define SHOAL_TESTS_INTEGRATION_ERROR_OF_H_

#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace shoal::testing {

// The message of the E that call() throws; "" and a test failure when it
// throws anything else, or nothing.
template <class E, class Call>
std::string ErrorOf(Call&& call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not the error expected: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error";
  return "";
}

// Runs a shell command and returns what it printed (stdout and stderr), with
// its exit status in *exit_code when given (-1 when it did not exit).
std::string RunCommand(const std::string& command, int* exit_code = nullptr);

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_ERROR_OF_H_

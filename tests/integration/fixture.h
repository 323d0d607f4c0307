// A test suite with one real shoal-server process for all its tests.
#ifndef SHOAL_TESTS_INTEGRATION_FIXTURE_H_
#define SHOAL_TESTS_INTEGRATION_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "integration/server_process.h"
#include "shoal/shoal.h"

namespace shoal::testing {

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static Manager Connect() {
    return Manager::connect(server_->address(), AuthKey::from_file(server_->authkey_file()));
  }
  static ServerProcess& server() { return *server_; }
  // Starts the worker args[0] (integration/workers.h: this program run
  // again), given the suite's server address and authkey file before the
  // rest of args; with out, *out reads the worker's stdout.
  static pid_t Spawn(std::vector<std::string> args, int* out = nullptr) {
    args.insert(args.begin() + 1, {server_->address(), server_->authkey_file()});
    return SpawnWorker(args, out);
  }

  // A name no other test of the suite uses.
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  inline static ServerProcess* server_ = nullptr;
};

// Value::List from ints, for short expectations.
inline Value::List Ints(std::initializer_list<int> values) {
  Value::List out;
  for (int v : values) out.push_back(v);
  return out;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_FIXTURE_H_

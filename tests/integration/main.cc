// The integration test program. Run with "--worker NAME ARGS..." it is one of
// the worker processes the tests start (see workers.h); otherwise it runs the
// tests.
#include <gtest/gtest.h>

#include <cstring>

#include "integration/workers.h"

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--worker") == 0) {
    return shoal::testing::RunWorker(argc - 2, argv + 2);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

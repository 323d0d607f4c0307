// The integration test program. Run with "--worker NAME ARGS..." it is one of
// the worker processes the tests start (see workers.h); otherwise it runs the
// tests. "--transport=T" sets $SHOAL_TRANSPORT for the tests and the workers
// they start, so that the same tests run over the gRPC session stream.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>

#include "integration/workers.h"

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--worker") == 0) {
    return shoal::testing::RunWorker(argc - 2, argv + 2);
  }
  ::testing::InitGoogleTest(&argc, argv);
  constexpr char kTransport[] = "--transport=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kTransport, sizeof(kTransport) - 1) == 0) {
      setenv("SHOAL_TRANSPORT", argv[i] + sizeof(kTransport) - 1, 1);
    }
  }
  return RUN_ALL_TESTS();
}

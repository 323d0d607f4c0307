// shoal-server: hosts shared objects and serves them over gRPC.
#include "absl/flags/usage.h"
#include "server/serve.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Hosts shared objects (list, dict, Namespace, Value, ...) for worker processes.\n"
      "Usage: shoal-server [--listen=HOST:PORT|unix:PATH] [--authkey-file=PATH]");
  return shoal::server::Serve(argc, argv);
}

// The server program: parses the server's flags from argv, loads the
// authkey, serves until SIGINT or SIGTERM, and returns the exit status.
// shoal-server is this alone; `shoal serve` runs the same.
#ifndef SHOAL_SERVER_SERVE_H_
#define SHOAL_SERVER_SERVE_H_

namespace shoal::server {

// Call from main, before any other thread starts: it blocks SIGINT and
// SIGTERM in the calling thread so that every thread started later inherits
// the mask, and one thread takes them with sigwait. The caller sets the
// usage message (absl::SetProgramUsageMessage) first.
int Serve(int argc, char** argv);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_SERVE_H_

// How an absl::Status travels on the session stream, whatever carries it:
// the error fields of a Reply, and the StreamEnd of the framed transport's
// last frame. Both name the Python error kind, as the gRPC edge does
// (grpc_status.h), so a client reads them the same way.
#ifndef SHOAL_SERVER_TRANSPORT_STREAM_ERRORS_H_
#define SHOAL_SERVER_TRANSPORT_STREAM_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "shoal/v1/session.pb.h"

namespace shoal::server {

// The status's message with its kind in front ("KeyError: 'k'"), or the
// kind alone when the message is empty; "" for OK.
std::string ErrorLine(const absl::Status& status);

// Fills the error fields of reply from a status that is not OK.
void FillReplyError(const absl::Status& status, v1::Reply* reply);

// Fills end: the status's code (absl::StatusCode and google.rpc.Code share
// their numbers) and its ErrorLine.
void FillStreamEnd(const absl::Status& status, v1::StreamEnd* end);

}  // namespace shoal::server

#endif  // SHOAL_SERVER_TRANSPORT_STREAM_ERRORS_H_

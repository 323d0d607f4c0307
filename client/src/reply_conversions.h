// Converters from reply messages to the results proxies return, for Start
// (client/src/call.h). They run on the thread that reads the reply, adopt
// every reference in the reply (see ClientSession::Adopt), and adopt all of a
// reply's values even when one fails, so that no reference is left unowned.
//
// Thread-safety: the functions may be called from any thread.
#ifndef SHOAL_CLIENT_SRC_REPLY_CONVERSIONS_H_
#define SHOAL_CLIENT_SRC_REPLY_CONVERSIONS_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "client/src/client_session.h"
#include "shoal/manager.h"
#include "shoal/pipeline.h"
#include "shoal/v1/dict.pb.h"
#include "shoal/v1/manager.pb.h"
#include "shoal/v1/object.pb.h"
#include "shoal/value.h"

namespace shoal::detail {

using Entries = std::vector<std::pair<Value, Value>>;

inline int64_t IntOf(ClientSession&, v1::IntReply& reply) { return reply.value(); }
inline size_t SizeOf(ClientSession&, v1::IntReply& reply) {
  return static_cast<size_t>(reply.value());
}
inline bool BoolOf(ClientSession&, v1::BoolReply& reply) { return reply.value(); }

Value ValueOf(ClientSession& session, v1::ValueReply& reply);
Value::List ValuesOf(ClientSession& session, v1::ValuesReply& reply);
Entries EntriesOf(ClientSession& session, v1::EntriesReply& reply);
std::pair<Value, Value> EntryOf(ClientSession& session, v1::EntryReply& reply);

ObjectInfo ToObjectInfo(const v1::ObjectInfo& wire);

// Manager/Describe of one object, by id or as request names it.
Future<ObjectInfo> DescribeAsync(ClientSession& session, uint64_t id);
Future<ObjectInfo> DescribeAsync(ClientSession& session, const v1::DescribeRequest& request);

}  // namespace shoal::detail

#endif  // SHOAL_CLIENT_SRC_REPLY_CONVERSIONS_H_

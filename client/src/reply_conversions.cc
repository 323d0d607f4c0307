#include "client/src/reply_conversions.h"

#include <exception>

#include "client/src/call.h"

namespace shoal::detail {
namespace {

// Adopts each wire value in turn, all of them even after a failure, then
// rethrows the first failure.
template <class Fn>
void AdoptEach(int count, Fn adopt_one) {
  std::exception_ptr first_error;
  for (int i = 0; i < count; ++i) {
    try {
      adopt_one(i);
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace

Value ValueOf(ClientSession& session, v1::ValueReply& reply) {
  return session.Adopt(reply.value());
}

Value::List ValuesOf(ClientSession& session, v1::ValuesReply& reply) {
  Value::List values;
  values.reserve(static_cast<size_t>(reply.values_size()));
  AdoptEach(reply.values_size(), [&](int i) { values.push_back(session.Adopt(reply.values(i))); });
  return values;
}

Entries EntriesOf(ClientSession& session, v1::EntriesReply& reply) {
  Entries entries;
  entries.reserve(static_cast<size_t>(reply.entries_size()));
  AdoptEach(reply.entries_size(), [&](int i) {
    const v1::Entry& entry = reply.entries(i);
    std::pair<Value, Value> adopted;
    std::exception_ptr error;
    // The value is adopted even when the key fails.
    try {
      adopted.first = session.Adopt(entry.key());
    } catch (...) {
      error = std::current_exception();
    }
    adopted.second = session.Adopt(entry.value());
    if (error) std::rethrow_exception(error);
    entries.push_back(std::move(adopted));
  });
  return entries;
}

std::pair<Value, Value> EntryOf(ClientSession& session, v1::EntryReply& reply) {
  std::pair<Value, Value> entry;
  std::exception_ptr error;
  try {
    entry.first = session.Adopt(reply.key());
  } catch (...) {
    error = std::current_exception();
  }
  entry.second = session.Adopt(reply.value());
  if (error) std::rethrow_exception(error);
  return entry;
}

ObjectInfo ToObjectInfo(const v1::ObjectInfo& wire) {
  ObjectInfo info;
  info.id = wire.id();
  info.kind = static_cast<Kind>(wire.kind());
  info.name = wire.name();
  info.session_refs = wire.session_refs();
  info.container_refs = wire.container_refs();
  info.size = wire.size();
  info.repr = wire.repr();
  info.typecode = wire.typecode();
  for (const v1::Holder& holder : wire.holders()) {
    info.holders.push_back(Holder{holder.session_id(), holder.client(), holder.count()});
  }
  info.waiting = wire.waiting();
  return info;
}

Future<ObjectInfo> DescribeAsync(ClientSession& session, uint64_t id) {
  v1::DescribeRequest request;
  request.set_id(id);
  return DescribeAsync(session, request);
}

Future<ObjectInfo> DescribeAsync(ClientSession& session, const v1::DescribeRequest& request) {
  return Start(session, nullptr, method::Manager::Describe, request, KeepAlive(),
               [](ClientSession&, v1::ObjectInfo& reply) { return ToObjectInfo(reply); });
}

}  // namespace shoal::detail

#include "shoal/pipeline.h"

#include "client/src/client_session.h"
#include "client/src/connection.h"
#include "shoal/manager.h"

namespace shoal {

namespace detail {

void Flush(Outbox* outbox) {
  if (outbox != nullptr) outbox->Flush();
}

void Await(Connection& connection, uint64_t call_id) { connection.Await(call_id); }

void Disown(Connection& connection, uint64_t call_id) { connection.Disown(call_id); }

}  // namespace detail

Batch::Batch(const Manager& manager) : outbox_(manager.session().NewOutbox()) {}

Batch::~Batch() { send(); }

void Batch::send() { detail::Flush(outbox_.get()); }

size_t Batch::size() const { return outbox_ != nullptr ? outbox_->size() : 0; }

}  // namespace shoal

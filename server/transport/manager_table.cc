// ManagerService: rows that decode a request, call the core (the object
// factory, the registry, the listings) and encode its answer.
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "server/core/listing.h"
#include "server/core/object_factory.h"
#include "server/transport/tables.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.Manager";

void Encode(const ObjectListing& listing, v1::ObjectInfo* info) {
  info->set_id(listing.id);
  info->set_kind(static_cast<v1::Kind>(listing.kind));
  info->set_name(listing.name);
  info->set_session_refs(listing.session_refs);
  info->set_container_refs(listing.container_refs);
  info->set_size(listing.size);
  info->set_repr(listing.repr);
  if (!listing.typecode.empty()) info->set_typecode(listing.typecode);
  for (const ObjectHolder& holder : listing.holders) {
    v1::Holder* out = info->add_holders();
    out->set_session_id(holder.session);
    if (!holder.client.empty()) out->set_client(holder.client);
    out->set_count(holder.count);
  }
  info->set_waiting(listing.waiting);
}

void Encode(const SessionListing& listing, v1::SessionInfo* info) {
  info->set_id(listing.id);
  info->set_client(listing.client);
  info->set_peer(listing.peer);
  info->set_streams(listing.streams);
  if (listing.expires_in.has_value()) {
    info->set_expires_in(absl::ToDoubleSeconds(*listing.expires_in));
  }
  info->set_refs(listing.refs);
  for (const SessionHolding& holding : listing.holdings) {
    v1::SessionHolding* out = info->add_holdings();
    out->set_object_id(holding.object_id);
    out->set_kind(static_cast<v1::Kind>(holding.kind));
    out->set_name(holding.name);
    out->set_count(holding.count);
    out->set_waiting(holding.waiting);
  }
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(Row<v1::CreateRequest, v1::CreateReply>(
      kService, "Create",
      [](CallContext& c, const v1::CreateRequest& r, v1::CreateReply& out) -> absl::Status {
        ObjectSpec spec;
        spec.kind = static_cast<Kind>(r.kind());
        spec.kind_label = v1::Kind_Name(r.kind());
        spec.name = r.name();
        absl::StatusOr<Value> initial = c.Read(r.initial());
        if (!initial.ok()) return initial.status();
        spec.initial = *std::move(initial);
        spec.typecode = r.typecode();
        spec.any_session_may_release = r.any_session_may_release();
        if (r.has_release_at_session_end()) {
          spec.release_at_session_end = r.release_at_session_end();
        }
        if (r.has_lock()) spec.lock_id = r.lock().id();
        spec.parties = r.parties();
        if (r.has_timeout()) spec.timeout_seconds = r.timeout();
        spec.maxsize = r.maxsize();
        spec.duplex = !r.has_duplex() || r.duplex();
        if (r.has_max_retries()) spec.max_retries = r.max_retries();
        absl::StatusOr<CreatedObject> created =
            c.core().factory().Create(c.session(), std::move(spec));
        if (!created.ok()) return created.status();
        out.mutable_ref()->set_id(created->id);
        out.mutable_ref()->set_kind(r.kind());
        out.set_created(created->created);
        if (created->ends.size() == 2) {
          v1::PipeEnds* ends = out.mutable_ends();
          ends->mutable_first()->set_id(created->ends[0]);
          ends->mutable_first()->set_kind(v1::CONNECTION);
          ends->mutable_second()->set_id(created->ends[1]);
          ends->mutable_second()->set_kind(v1::CONNECTION);
        }
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::LookupRequest, v1::LookupReply>(
      kService, "Lookup",
      [](CallContext& c, const v1::LookupRequest& r, v1::LookupReply& out) -> absl::Status {
        if (absl::Status same = c.core().CheckIncarnation(r.incarnation(), r.id(), r.name());
            !same.ok()) {
          return same;
        }
        absl::StatusOr<ObjectRef> ref = c.core().registry().Retain(c.session(), r.id(), r.name());
        if (!ref.ok()) return ref.status();
        out.mutable_ref()->set_id(ref->id);
        out.mutable_ref()->set_kind(static_cast<v1::Kind>(ref->kind));
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::ReleaseRequest, v1::ReleaseReply>(
      kService, "Release",
      [](CallContext& c, const v1::ReleaseRequest& r, v1::ReleaseReply&) -> absl::Status {
        c.core().ReleaseRefs(c.session(), r.ids());
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::DeleteRequest, v1::DeleteReply>(
      kService, "Delete",
      [](CallContext& c, const v1::DeleteRequest& r, v1::DeleteReply&) -> absl::Status {
        return c.core().DeleteName(r.name());
      }));
  Method list = Row<v1::ListObjectsRequest, v1::ListObjectsReply>(
      kService, "ListObjects",
      [](CallContext& c, const v1::ListObjectsRequest& r, v1::ListObjectsReply& out) {
        ObjectPage page = ListObjects(c.core().registry(), c.core().sessions(), r.after_id(),
                                      r.page_size());
        for (const ObjectListing& listing : page.objects) Encode(listing, out.add_objects());
        out.set_next_after_id(page.next_after);
        return absl::OkStatus();
      });
  // Listing collects first, so that the count is exact; that takes the
  // collector lock exclusively.
  list.under_collector_lock = false;
  rows.push_back(std::move(list));
  Method describe = Row<v1::DescribeRequest, v1::ObjectInfo>(
      kService, "Describe",
      [](CallContext& c, const v1::DescribeRequest& r, v1::ObjectInfo& out) -> absl::Status {
        absl::StatusOr<ObjectListing> listing =
            DescribeObject(c.core().registry(), c.core().sessions(), r.id(), r.name());
        if (!listing.ok()) return listing.status();
        Encode(*listing, &out);
        return absl::OkStatus();
      });
  describe.under_collector_lock = false;
  rows.push_back(std::move(describe));
  rows.push_back(Row<v1::ListSessionsRequest, v1::ListSessionsReply>(
      kService, "ListSessions",
      [](CallContext& c, const v1::ListSessionsRequest&, v1::ListSessionsReply& out) {
        for (const SessionListing& listing :
             ListSessions(c.core().registry(), c.core().sessions(), absl::Now())) {
          Encode(listing, out.add_sessions());
        }
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& ManagerTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server

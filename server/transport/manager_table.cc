#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/objects/barrier_object.h"
#include "server/objects/condition_object.h"
#include "server/objects/dict_object.h"
#include "server/objects/event_object.h"
#include "server/objects/list_object.h"
#include "server/objects/lock_object.h"
#include "server/objects/namespace_object.h"
#include "server/objects/queue_object.h"
#include "server/objects/semaphore_object.h"
#include "server/objects/value_object.h"
#include "server/transport/tables.h"
#include "shared/error_kind.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.Manager";
// Listings cut long reprs; Describe gives the whole.
constexpr size_t kListedReprLimit = 200;

// The Lock or RLock a Condition is to work over; null for a new RLock.
absl::StatusOr<std::shared_ptr<LockObject>> ConditionLock(Core& core, const v1::CreateRequest& r) {
  if (static_cast<Kind>(r.kind()) != Kind::kCondition || !r.has_lock() || r.lock().id() == 0) {
    return nullptr;
  }
  absl::StatusOr<std::shared_ptr<Object>> found =
      core.registry().Find(r.lock().id(), std::string());
  if (!found.ok()) return found.status();
  if ((*found)->kind() != Kind::kLock && (*found)->kind() != Kind::kRLock) {
    return error::TypeError(absl::StrCat("a Condition works over a Lock or RLock, not a ",
                                         KindName((*found)->kind())));
  }
  return std::static_pointer_cast<LockObject>(*std::move(found));
}

// Builds a new object of the requested kind from its initial value. Runs
// under the registry's lock (as Registry::Create's factory): it must not call
// the registry.
absl::StatusOr<std::unique_ptr<Object>> MakeObject(Core& core, const v1::CreateRequest& r,
                                                   Value initial,
                                                   std::shared_ptr<LockObject> lock) {
  MemoryBudget* budget = &core.budget();
  Timers* timers = &core.timers();
  const bool holds_refs = initial.contains_ref();
  absl::StatusOr<std::unique_ptr<Object>> made;
  switch (static_cast<Kind>(r.kind())) {
    case Kind::kList: {
      if (!initial.is_none() && !initial.is_list()) {
        return error::TypeError(absl::StrCat("a list starts from a list, not ", initial.type_name()));
      }
      Value::List items = initial.is_list() ? initial.as_list() : Value::List();
      made = ListObject::Create(budget, std::move(items));
      break;
    }
    case Kind::kDict: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError(absl::StrCat("a dict starts from a dict, not ", initial.type_name()));
      }
      Value::Dict entries = initial.is_dict() ? initial.as_dict() : Value::Dict();
      made = DictObject::Create(budget, std::move(entries));
      break;
    }
    case Kind::kNamespace: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError("a Namespace starts from a dict of attribute names");
      }
      auto ns = std::make_unique<NamespaceObject>(budget);
      if (initial.is_dict()) {
        for (const auto& [key, value] : initial.as_dict()) {
          if (!key.is_str()) return error::TypeError("attribute names must be str");
          absl::Status set = ns->SetAttr(key.as_str(), value);
          if (!set.ok()) return set;
        }
      }
      made = std::unique_ptr<Object>(std::move(ns));
      break;
    }
    case Kind::kValue:
      made = ValueObject::Create(budget, r.typecode(), std::move(initial));
      break;
    case Kind::kLock:
    case Kind::kRLock:
      made = std::unique_ptr<Object>(std::make_unique<LockObject>(
          static_cast<Kind>(r.kind()), timers, r.any_session_may_release()));
      break;
    case Kind::kSemaphore:
    case Kind::kBoundedSemaphore: {
      if (!initial.is_none() && !initial.is_int()) {
        return error::TypeError(
            absl::StrCat("a semaphore starts from an int, not ", initial.type_name()));
      }
      made = SemaphoreObject::Create(static_cast<Kind>(r.kind()),
                                     initial.is_int() ? initial.as_int() : 1, timers);
      break;
    }
    case Kind::kCondition:
      made = std::unique_ptr<Object>(std::make_unique<ConditionObject>(timers, std::move(lock)));
      break;
    case Kind::kEvent:
      made = std::unique_ptr<Object>(std::make_unique<EventObject>(timers));
      break;
    case Kind::kBarrier: {
      std::optional<absl::Duration> timeout;
      if (r.has_timeout()) {
        if (std::isnan(r.timeout()) || r.timeout() < 0) {
          return error::ValueError("a Barrier's timeout must be a non-negative number of seconds");
        }
        if (!std::isinf(r.timeout())) timeout = absl::Seconds(r.timeout());
      }
      made = BarrierObject::Create(r.parties(), timeout, timers);
      break;
    }
    case Kind::kQueue:
    case Kind::kJoinableQueue:
      made = QueueObject::Create(static_cast<Kind>(r.kind()), r.maxsize(), budget, timers);
      break;
    default:
      return error::ValueError(absl::StrCat("cannot create objects of kind ",
                                            v1::Kind_Name(r.kind())));
  }
  if (made.ok() && holds_refs) (*made)->MarkMayHoldRefs();
  return made;
}

// The client name of every live session.
absl::flat_hash_map<SessionId, std::string> ClientNames(Core& core) {
  absl::flat_hash_map<SessionId, std::string> names;
  for (const SessionInfo& session : core.sessions().List()) {
    names[session.id] = session.client_name;
  }
  return names;
}

void FillHolders(Core& core, const Object& object, v1::ObjectInfo* info) {
  if (!IsSyncKind(object.kind())) return;
  const Holdings holdings = object.Held();
  const absl::flat_hash_map<SessionId, std::string> names = ClientNames(core);
  std::vector<std::pair<SessionId, int64_t>> held = holdings.held;
  std::sort(held.begin(), held.end());
  for (const auto& [session, count] : held) {
    v1::Holder* holder = info->add_holders();
    holder->set_session_id(session);
    auto name = names.find(session);
    if (name != names.end()) holder->set_client(name->second);
    holder->set_count(count);
  }
  int64_t waiting = 0;
  for (const auto& [session, count] : holdings.waiting) waiting += count;
  info->set_waiting(waiting);
}

void FillInfo(const ObjectSummary& summary, size_t repr_limit, v1::ObjectInfo* info) {
  info->set_id(summary.id);
  info->set_kind(static_cast<v1::Kind>(summary.kind));
  info->set_name(summary.name);
  info->set_session_refs(summary.session_refs);
  info->set_container_refs(summary.container_refs);
  info->set_size(summary.object->Size());
  std::string repr = summary.object->Repr();
  if (repr.size() > repr_limit) {
    repr.resize(repr_limit);
    repr += "...";
  }
  info->set_repr(std::move(repr));
  if (summary.kind == Kind::kValue) {
    info->set_typecode(static_cast<const ValueObject&>(*summary.object).typecode());
  }
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(Row<v1::CreateRequest, v1::CreateReply>(
      kService, "Create",
      [](CallContext& c, const v1::CreateRequest& r, v1::CreateReply& out) -> absl::Status {
        const Kind kind = static_cast<Kind>(r.kind());
        absl::StatusOr<Value> initial = c.Read(r.initial());
        if (!initial.ok()) return initial.status();
        absl::Status refs = c.core().registry().CheckRefs(*initial);
        if (!refs.ok()) return refs;
        absl::StatusOr<std::shared_ptr<LockObject>> lock = ConditionLock(c.core(), r);
        if (!lock.ok()) return lock.status();
        auto created = c.core().registry().Create(c.session(), kind, r.name(), [&]() {
          return MakeObject(c.core(), r, *std::move(initial), *std::move(lock));
        });
        if (!created.ok()) return created.status();
        out.mutable_ref()->set_id(created->first);
        out.mutable_ref()->set_kind(r.kind());
        out.set_created(created->second);
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::LookupRequest, v1::LookupReply>(
      kService, "Lookup",
      [](CallContext& c, const v1::LookupRequest& r, v1::LookupReply& out) -> absl::Status {
        absl::StatusOr<ObjectRef> ref = c.core().registry().Retain(c.session(), r.id(), r.name());
        if (!ref.ok()) return ref.status();
        out.mutable_ref()->set_id(ref->id);
        out.mutable_ref()->set_kind(static_cast<v1::Kind>(ref->kind));
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::ReleaseRequest, v1::ReleaseReply>(
      kService, "Release",
      [](CallContext& c, const v1::ReleaseRequest& r, v1::ReleaseReply&) -> absl::Status {
        for (uint64_t id : r.ids()) c.core().registry().Release(c.session(), id);
        if (c.core().registry().collect_wanted()) c.core().RequestCollect();
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::DeleteRequest, v1::DeleteReply>(
      kService, "Delete",
      [](CallContext& c, const v1::DeleteRequest& r, v1::DeleteReply&) -> absl::Status {
        absl::Status deleted = c.core().registry().DeleteName(r.name());
        if (deleted.ok()) c.core().RequestCollect();
        return deleted;
      }));
  Method list = Row<v1::ListObjectsRequest, v1::ListObjectsReply>(
      kService, "ListObjects",
      [](CallContext& c, const v1::ListObjectsRequest&, v1::ListObjectsReply& out) {
        for (const ObjectSummary& summary : c.core().registry().List()) {
          v1::ObjectInfo* info = out.add_objects();
          FillInfo(summary, kListedReprLimit, info);
          FillHolders(c.core(), *summary.object, info);
        }
        return absl::OkStatus();
      });
  // Listing collects first, so that the count is exact; that takes the
  // collector lock exclusively.
  list.under_collector_lock = false;
  rows.push_back(std::move(list));
  Method describe = Row<v1::DescribeRequest, v1::ObjectInfo>(
      kService, "Describe",
      [](CallContext& c, const v1::DescribeRequest& r, v1::ObjectInfo& out) -> absl::Status {
        absl::StatusOr<ObjectSummary> summary = c.core().registry().Summarize(r.id(), r.name());
        if (!summary.ok()) return summary.status();
        FillInfo(*summary, std::string::npos, &out);
        FillHolders(c.core(), *summary->object, &out);
        return absl::OkStatus();
      });
  describe.under_collector_lock = false;
  rows.push_back(std::move(describe));
  rows.push_back(Row<v1::ListSessionsRequest, v1::ListSessionsReply>(
      kService, "ListSessions",
      [](CallContext& c, const v1::ListSessionsRequest&, v1::ListSessionsReply& out) {
        std::vector<SessionInfo> sessions = c.core().sessions().List();
        std::sort(sessions.begin(), sessions.end(),
                  [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
        absl::flat_hash_map<SessionId, v1::SessionInfo*> by_id;
        const absl::Time now = absl::Now();
        for (const SessionInfo& session : sessions) {
          v1::SessionInfo* info = out.add_sessions();
          info->set_id(session.id);
          info->set_client(session.client_name);
          info->set_peer(session.peer);
          info->set_streams(session.streams);
          if (session.deadline != absl::InfiniteFuture()) {
            info->set_expires_in(absl::ToDoubleSeconds(std::max(session.deadline - now,
                                                                absl::ZeroDuration())));
          }
          int64_t refs = 0;
          for (const auto& [id, count] : c.core().registry().SessionRefs(session.id)) {
            refs += count;
          }
          info->set_refs(refs);
          by_id[session.id] = info;
        }
        for (const ObjectSummary& summary : c.core().registry().SyncObjects()) {
          const Holdings holdings = summary.object->Held();
          absl::flat_hash_map<SessionId, std::pair<int64_t, int64_t>> per_session;
          for (const auto& [session, count] : holdings.held) per_session[session].first += count;
          for (const auto& [session, count] : holdings.waiting) {
            per_session[session].second += count;
          }
          for (const auto& [session, counts] : per_session) {
            auto it = by_id.find(session);
            if (it == by_id.end()) continue;
            v1::SessionHolding* holding = it->second->add_holdings();
            holding->set_object_id(summary.id);
            holding->set_kind(static_cast<v1::Kind>(summary.kind));
            holding->set_name(summary.name);
            holding->set_count(counts.first);
            holding->set_waiting(counts.second);
          }
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

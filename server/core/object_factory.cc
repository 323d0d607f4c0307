#include "server/core/object_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/timeout.h"
#include "server/objects/array_object.h"
#include "server/objects/barrier_object.h"
#include "server/objects/condition_object.h"
#include "server/objects/connection_object.h"
#include "server/objects/dict_object.h"
#include "server/objects/event_object.h"
#include "server/objects/list_object.h"
#include "server/objects/namespace_object.h"
#include "server/objects/pipe_object.h"
#include "server/objects/pool_object.h"
#include "server/objects/queue_object.h"
#include "server/objects/semaphore_object.h"
#include "server/objects/value_object.h"
#include "shared/error_kind.h"

namespace shoal::server {

ObjectFactory::ObjectFactory(Registry* registry, MemoryBudget* budget, Timers* timers)
    : registry_(registry), budget_(budget), timers_(timers) {}

absl::StatusOr<CreatedObject> ObjectFactory::Create(SessionId session, ObjectSpec spec) {
  if (spec.kind == Kind::kPipe) return CreatePipe(session, spec);
  absl::Status refs = registry_->BindRefs(spec.initial);
  if (!refs.ok()) return refs;
  absl::StatusOr<std::shared_ptr<LockObject>> lock = ConditionLock(spec);
  if (!lock.ok()) return lock.status();
  const Kind kind = spec.kind;
  const std::string name = spec.name;
  // Registry::Create calls the factory under the registry's lock, and only
  // when no object has the name.
  absl::StatusOr<std::pair<uint64_t, bool>> entered =
      registry_->Create(session, kind, name, [&]() { return Make(std::move(spec), *lock); });
  if (!entered.ok()) return entered.status();
  return CreatedObject{entered->first, entered->second, {}};
}

absl::StatusOr<CreatedObject> ObjectFactory::CreatePipe(SessionId session,
                                                        const ObjectSpec& spec) {
  if (!spec.name.empty()) {
    // Get: a pipe of that name gives its own ends. The caller holds the
    // collector lock shared (see Registry), so nothing found here is freed
    // before it is retained.
    absl::StatusOr<ObjectRef> named = registry_->Retain(session, 0, spec.name);
    if (named.ok()) {
      if (named->kind == Kind::kPipe) return PipeEnds(session, named->id);
      registry_->Release(session, named->id);
      return error::TypeError(absl::StrCat("the object named '", spec.name, "' is a ",
                                           KindName(named->kind), ", not a Pipe"));
    }
  }
  absl::StatusOr<ConnectionObject::Ends> made =
      ConnectionObject::MakePipe(spec.duplex, spec.maxsize, budget_, timers_);
  if (!made.ok()) return made.status();
  ConnectionObject& first = *made->first;
  ConnectionObject& second = *made->second;
  absl::StatusOr<std::pair<uint64_t, bool>> first_id = registry_->Create(
      session, Kind::kConnection, "",
      [&]() -> absl::StatusOr<std::unique_ptr<Object>> { return std::move(made->first); });
  if (!first_id.ok()) return first_id.status();
  absl::StatusOr<std::pair<uint64_t, bool>> second_id = registry_->Create(
      session, Kind::kConnection, "",
      [&]() -> absl::StatusOr<std::unique_ptr<Object>> { return std::move(made->second); });
  if (!second_id.ok()) {
    registry_->Release(session, first_id->first);
    return second_id.status();
  }
  first.SetPeerId(second_id->first);
  second.SetPeerId(first_id->first);
  // The pipe holds its ends as a list holds what is stored in it.
  Value ends = Value::list({Value(ObjectRef{first_id->first, Kind::kConnection, nullptr}),
                            Value(ObjectRef{second_id->first, Kind::kConnection, nullptr})});
  absl::Status bound = registry_->BindRefs(ends);
  absl::StatusOr<std::pair<uint64_t, bool>> pipe =
      bound.ok() ? registry_->Create(session, Kind::kPipe, spec.name,
                                     [&]() -> absl::StatusOr<std::unique_ptr<Object>> {
                                       return std::make_unique<PipeObject>(spec.duplex,
                                                                           std::move(ends));
                                     })
                 : absl::StatusOr<std::pair<uint64_t, bool>>(bound);
  if (pipe.ok() && pipe->second) {
    return CreatedObject{pipe->first, true, {first_id->first, second_id->first}};
  }
  // The ends made here are nobody's now: they are freed.
  registry_->Release(session, first_id->first);
  registry_->Release(session, second_id->first);
  if (!pipe.ok()) return pipe.status();
  // Another session made a pipe of this name meanwhile; Registry::Create
  // checked its kind and gave this session a reference to it.
  return PipeEnds(session, pipe->first);
}

absl::StatusOr<CreatedObject> ObjectFactory::PipeEnds(SessionId session, uint64_t pipe_id) {
  absl::StatusOr<std::shared_ptr<Object>> found = registry_->Find(pipe_id, "", Kind::kPipe);
  if (!found.ok()) return found.status();
  const auto& pipe = static_cast<const PipeObject&>(**found);
  CreatedObject out{pipe_id, false, {}};
  // A pipe's ends live while it does, so this finds both; were one missing,
  // the references taken here go back with the error.
  for (uint64_t end : {pipe.first(), pipe.second()}) {
    absl::StatusOr<ObjectRef> retained = registry_->Retain(session, end, "");
    if (!retained.ok()) {
      for (uint64_t taken : out.ends) registry_->Release(session, taken);
      registry_->Release(session, pipe_id);
      return retained.status();
    }
    out.ends.push_back(retained->id);
  }
  return out;
}

absl::StatusOr<std::shared_ptr<LockObject>> ObjectFactory::ConditionLock(
    const ObjectSpec& spec) const {
  if (spec.kind != Kind::kCondition || spec.lock_id == 0) return nullptr;
  absl::StatusOr<std::shared_ptr<Object>> found = registry_->Find(spec.lock_id, std::string());
  if (!found.ok()) return found.status();
  if ((*found)->kind() != Kind::kLock && (*found)->kind() != Kind::kRLock) {
    return error::TypeError(absl::StrCat("a Condition works over a Lock or RLock, not a ",
                                         KindName((*found)->kind())));
  }
  return std::static_pointer_cast<LockObject>(*std::move(found));
}

absl::StatusOr<std::unique_ptr<Object>> ObjectFactory::Make(
    ObjectSpec spec, std::shared_ptr<LockObject> lock) const {
  Value& initial = spec.initial;
  const bool holds_refs = initial.contains_ref();
  absl::StatusOr<std::unique_ptr<Object>> made;
  switch (spec.kind) {
    case Kind::kList: {
      if (!initial.is_none() && !initial.is_list()) {
        return error::TypeError(absl::StrCat("a list starts from a list, not ", initial.type_name()));
      }
      Value::List items = initial.is_list() ? initial.as_list() : Value::List();
      made = ListObject::Create(budget_, std::move(items));
      break;
    }
    case Kind::kDict: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError(absl::StrCat("a dict starts from a dict, not ", initial.type_name()));
      }
      Value::Dict entries = initial.is_dict() ? initial.as_dict() : Value::Dict();
      made = DictObject::Create(budget_, std::move(entries));
      break;
    }
    case Kind::kNamespace: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError("a Namespace starts from a dict of attribute names");
      }
      auto ns = std::make_unique<NamespaceObject>(budget_);
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
      made = ValueObject::Create(budget_, spec.typecode, std::move(initial));
      break;
    case Kind::kArray:
      made = ArrayObject::Create(budget_, spec.typecode, initial);
      break;
    case Kind::kLock:
    case Kind::kRLock:
      made = std::unique_ptr<Object>(
          std::make_unique<LockObject>(spec.kind, timers_, spec.any_session_may_release));
      break;
    case Kind::kSemaphore:
    case Kind::kBoundedSemaphore: {
      if (!initial.is_none() && !initial.is_int()) {
        return error::TypeError(
            absl::StrCat("a semaphore starts from an int, not ", initial.type_name()));
      }
      made = SemaphoreObject::Create(spec.kind, initial.is_int() ? initial.as_int() : 1, timers_,
                                     spec.release_at_session_end);
      break;
    }
    case Kind::kCondition:
      made = std::unique_ptr<Object>(std::make_unique<ConditionObject>(timers_, std::move(lock)));
      break;
    case Kind::kEvent:
      made = std::unique_ptr<Object>(std::make_unique<EventObject>(timers_));
      break;
    case Kind::kBarrier: {
      std::optional<absl::Duration> timeout;
      if (spec.timeout_seconds.has_value()) {
        std::optional<absl::Duration> given = TimeoutFromSeconds(*spec.timeout_seconds);
        if (!given.has_value()) {
          return error::ValueError("a Barrier's timeout must be a non-negative number of seconds");
        }
        // An infinite default timeout is no default timeout.
        if (*given != absl::InfiniteDuration()) timeout = *given;
      }
      made = BarrierObject::Create(spec.parties, timeout, timers_);
      break;
    }
    case Kind::kQueue:
    case Kind::kJoinableQueue:
      made = QueueObject::Create(spec.kind, spec.maxsize, budget_, timers_);
      break;
    case Kind::kPool:
      made = PoolObject::Create(spec.max_retries.value_or(kDefaultPoolMaxRetries), budget_,
                                timers_);
      break;
    case Kind::kConnection:
      return error::ValueError("a Connection is made with its peer: create a PIPE");
    case Kind::kPipe:
      // Three objects, which Create enters one by one (CreatePipe).
      return error::ValueError("a Pipe is made by Create, not alone");
    default:
      return error::ValueError(absl::StrCat("cannot create objects of kind ", spec.kind_label));
  }
  if (made.ok() && holds_refs) (*made)->MarkMayHoldRefs();
  return made;
}

}  // namespace shoal::server

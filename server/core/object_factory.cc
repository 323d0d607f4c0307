#include "server/core/object_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/timeout.h"
#include "server/objects/array_object.h"
#include "server/objects/barrier_object.h"
#include "server/objects/condition_object.h"
#include "server/objects/dict_object.h"
#include "server/objects/event_object.h"
#include "server/objects/list_object.h"
#include "server/objects/namespace_object.h"
#include "server/objects/queue_object.h"
#include "server/objects/semaphore_object.h"
#include "server/objects/value_object.h"
#include "shared/error_kind.h"

namespace shoal::server {

ObjectFactory::ObjectFactory(Registry* registry, MemoryBudget* budget, Timers* timers)
    : registry_(registry), budget_(budget), timers_(timers) {}

absl::StatusOr<CreatedObject> ObjectFactory::Create(SessionId session, ObjectSpec spec) {
  absl::Status refs = registry_->CheckRefs(spec.initial);
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
  return CreatedObject{entered->first, entered->second};
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
      made = SemaphoreObject::Create(spec.kind, initial.is_int() ? initial.as_int() : 1, timers_);
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
    default:
      return error::ValueError(absl::StrCat("cannot create objects of kind ", spec.kind_label));
  }
  if (made.ok() && holds_refs) (*made)->MarkMayHoldRefs();
  return made;
}

}  // namespace shoal::server

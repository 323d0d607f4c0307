#include "shoal/manager.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/connection.h"
#include "client/src/methods.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "client/src/token.h"
#include "shared/incarnation.h"
#include "shoal/errors.h"
#include "shoal/pipeline.h"
#include "shoal/v1/manager.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::KeepAlive;
using detail::ObjectHandle;
using detail::ProxyAccess;
using detail::Start;
using detail::WholeReply;
namespace method = detail::method;

Manager Manager::connect(const std::string& address, const AuthKey& key,
                         const ConnectOptions& options) {
  return Manager(ClientSession::Connect(address, key.secret(), options));
}

detail::ClientSession& Manager::session() const {
  if (session_ == nullptr) throw ConnectionError("this Manager is not connected");
  return session_->ForThisProcess();
}

ListProxy Manager::list(std::string_view name) const {
  return ProxyAccess::Make<ListProxy>(
      ProxyAccess::Create(*this, Kind::kList, name, shoal::Value()));
}

ListProxy Manager::list(shoal::Value::List initial, std::string_view name) const {
  return ProxyAccess::Make<ListProxy>(
      ProxyAccess::Create(*this, Kind::kList, name, shoal::Value(std::move(initial))));
}

DictProxy Manager::dict(std::string_view name) const {
  return ProxyAccess::Make<DictProxy>(
      ProxyAccess::Create(*this, Kind::kDict, name, shoal::Value()));
}

DictProxy Manager::dict(shoal::Value::Dict initial, std::string_view name) const {
  return ProxyAccess::Make<DictProxy>(
      ProxyAccess::Create(*this, Kind::kDict, name, shoal::Value(std::move(initial))));
}

DictProxy Manager::dict(std::initializer_list<std::pair<shoal::Value, shoal::Value>> initial,
                        std::string_view name) const {
  shoal::Value::Dict entries;
  for (const auto& [key, value] : initial) {
    if (!key.hashable()) {
      throw TypeError(std::string("unhashable type: '") + key.type_name() + "'");
    }
    entries.set(key, value);
  }
  return dict(std::move(entries), name);
}

NamespaceProxy Manager::Namespace(std::string_view name) const {
  return ProxyAccess::Make<NamespaceProxy>(
      ProxyAccess::Create(*this, Kind::kNamespace, name, shoal::Value()));
}

namespace {

detail::CreateOptions TypecodeOptions(std::string typecode) {
  detail::CreateOptions options;
  options.typecode = std::move(typecode);
  return options;
}

}  // namespace

ValueProxy Manager::Value(std::string typecode, shoal::Value initial, std::string_view name) const {
  return ProxyAccess::Make<ValueProxy>(
      ProxyAccess::Create(*this, Kind::kValue, name, initial, TypecodeOptions(std::move(typecode))));
}

ArrayProxy Manager::Array(std::string typecode, shoal::Value::List initializer,
                          std::string_view name) const {
  return ProxyAccess::Make<ArrayProxy>(ProxyAccess::Create(*this, Kind::kArray, name,
                                                           shoal::Value(std::move(initializer)),
                                                           TypecodeOptions(std::move(typecode))));
}

ArrayProxy Manager::SizedArray(std::string typecode, int64_t size, std::string_view name) const {
  return ProxyAccess::Make<ArrayProxy>(ProxyAccess::Create(
      *this, Kind::kArray, name, shoal::Value(size), TypecodeOptions(std::move(typecode))));
}

LockProxy Manager::Lock(std::string_view name, LockOptions options) const {
  detail::CreateOptions create;
  create.any_session_may_release = options.any_session_may_release;
  return ProxyAccess::Make<LockProxy>(
      ProxyAccess::Create(*this, Kind::kLock, name, shoal::Value(), create));
}

RLockProxy Manager::RLock(std::string_view name) const {
  return ProxyAccess::Make<RLockProxy>(ProxyAccess::Create(*this, Kind::kRLock, name, shoal::Value()));
}

SemaphoreProxy Manager::Semaphore(int64_t value, std::string_view name,
                                  SemaphoreOptions options) const {
  detail::CreateOptions create;
  create.release_at_session_end = options.release_at_session_end;
  return ProxyAccess::Make<SemaphoreProxy>(
      ProxyAccess::Create(*this, Kind::kSemaphore, name, shoal::Value(value), create));
}

SemaphoreProxy Manager::BoundedSemaphore(int64_t value, std::string_view name,
                                         SemaphoreOptions options) const {
  detail::CreateOptions create;
  create.release_at_session_end = options.release_at_session_end;
  return ProxyAccess::Make<SemaphoreProxy>(
      ProxyAccess::Create(*this, Kind::kBoundedSemaphore, name, shoal::Value(value), create));
}

ConditionProxy Manager::Condition(std::string_view name) const {
  return ProxyAccess::Make<ConditionProxy>(
      ProxyAccess::Create(*this, Kind::kCondition, name, shoal::Value()));
}

ConditionProxy Manager::Condition(const AcquirerProxy& lock, std::string_view name) const {
  if (lock.kind() != Kind::kLock && lock.kind() != Kind::kRLock) {
    throw TypeError(std::string("a Condition works over a Lock or RLock, not a ") +
                    KindName(lock.kind()));
  }
  detail::CreateOptions create;
  create.lock_id = lock.id();
  create.lock_kind = lock.kind();
  // lock is held by the caller for the whole call, so the server finds it.
  return ProxyAccess::Make<ConditionProxy>(
      ProxyAccess::Create(*this, Kind::kCondition, name, shoal::Value(), create));
}

EventProxy Manager::Event(std::string_view name) const {
  return ProxyAccess::Make<EventProxy>(ProxyAccess::Create(*this, Kind::kEvent, name, shoal::Value()));
}

BarrierProxy Manager::Barrier(int64_t parties, Timeout timeout, std::string_view name) const {
  detail::CreateOptions create;
  create.parties = parties;
  if (timeout.has_value()) create.timeout = timeout->count() > 0 ? timeout->count() : 0;
  return ProxyAccess::Make<BarrierProxy>(
      ProxyAccess::Create(*this, Kind::kBarrier, name, shoal::Value(), create));
}

QueueProxy Manager::Queue(int64_t maxsize, std::string_view name) const {
  detail::CreateOptions create;
  create.maxsize = maxsize;
  return ProxyAccess::Make<QueueProxy>(
      ProxyAccess::Create(*this, Kind::kQueue, name, shoal::Value(), create));
}

QueueProxy Manager::JoinableQueue(int64_t maxsize, std::string_view name) const {
  detail::CreateOptions create;
  create.maxsize = maxsize;
  return ProxyAccess::Make<QueueProxy>(
      ProxyAccess::Create(*this, Kind::kJoinableQueue, name, shoal::Value(), create));
}

std::vector<SessionInfo> Manager::sessions() const {
  v1::ListSessionsReply reply = Start(session(), nullptr, method::Manager::ListSessions,
                                      v1::ListSessionsRequest(), KeepAlive(), WholeReply)
                                    .get();
  std::vector<SessionInfo> sessions;
  for (const v1::SessionInfo& wire : reply.sessions()) {
    SessionInfo info;
    info.id = wire.id();
    info.client = wire.client();
    info.peer = wire.peer();
    info.streams = wire.streams();
    if (wire.has_expires_in()) info.expires_in = wire.expires_in();
    info.refs = wire.refs();
    for (const v1::SessionHolding& h : wire.holdings()) {
      info.holdings.push_back(SessionHolding{h.object_id(), static_cast<Kind>(h.kind()), h.name(),
                                             h.count(), h.waiting()});
    }
    sessions.push_back(std::move(info));
  }
  return sessions;
}

std::vector<ObjectInfo> Manager::objects() const {
  ClientSession& session = this->session();
  // Drops made before this call must show in the counts.
  session.SettleReleases();
  // Page by page: the server never walks more than a page in one call.
  std::vector<ObjectInfo> objects;
  v1::ListObjectsRequest request;
  do {
    v1::ListObjectsReply reply =
        Start(session, nullptr, method::Manager::ListObjects, request, KeepAlive(), WholeReply)
            .get();
    for (const v1::ObjectInfo& info : reply.objects()) {
      objects.push_back(detail::ToObjectInfo(info));
    }
    request.set_after_id(reply.next_after_id());
  } while (request.after_id() != 0);
  return objects;
}

ObjectInfo Manager::describe(std::string_view name) const {
  v1::DescribeRequest request;
  request.set_name(std::string(name));
  return detail::DescribeAsync(session(), request).get();
}

ObjectInfo Manager::describe(uint64_t id) const { return detail::DescribeAsync(session(), id).get(); }

size_t Manager::object_count() const { return objects().size(); }

void Manager::delete_named(std::string_view name) const {
  v1::DeleteRequest request;
  request.set_name(std::string(name));
  Start(session(), nullptr, method::Manager::Delete, request, KeepAlive(), WholeReply).get();
}

std::string Manager::session_id() const { return session().id(); }

std::string Manager::incarnation() const { return FormatIncarnation(session().incarnation()); }

void Manager::close() {
  if (session_ != nullptr) session_->Close();
}

Batch::Batch(const Manager& manager) : outbox_(manager.session().NewOutbox()) {}

Batch::~Batch() { send(); }

void Batch::send() {
  if (outbox_ != nullptr) outbox_->Flush();
}

size_t Batch::size() const { return outbox_ != nullptr ? outbox_->size() : 0; }

namespace detail {

std::shared_ptr<ObjectHandle> ProxyAccess::Create(const Manager& manager, Kind kind,
                                                  std::string_view name, const Value& initial,
                                                  const CreateOptions& options) {
  v1::CreateRequest request;
  request.set_kind(static_cast<v1::Kind>(kind));
  request.set_name(std::string(name));
  KeepAlive keep_alive;
  EncodeArg(initial, request.mutable_initial(), &keep_alive);
  request.set_typecode(options.typecode);
  request.set_maxsize(options.maxsize);
  request.set_parties(options.parties);
  if (options.timeout.has_value()) request.set_timeout(*options.timeout);
  if (options.lock_id != 0) {
    request.mutable_lock()->set_id(options.lock_id);
    request.mutable_lock()->set_kind(static_cast<v1::Kind>(options.lock_kind));
  }
  request.set_any_session_may_release(options.any_session_may_release);
  if (options.release_at_session_end.has_value()) {
    request.set_release_at_session_end(*options.release_at_session_end);
  }
  if (options.max_retries.has_value()) request.set_max_retries(*options.max_retries);
  std::shared_ptr<ObjectHandle> handle =
      Start(manager.session(), nullptr, method::Manager::Create, request, std::move(keep_alive),
            [](ClientSession& session, v1::CreateReply& reply) {
              return session.AdoptRef(reply.ref());
            })
          .get();
  // A named object of another kind: the reference just taken goes back with
  // the handle.
  if (handle->kind() != kind) {
    throw TypeError("'" + std::string(name) + "' is a " + KindName(handle->kind()) + ", not a " +
                    KindName(kind));
  }
  return handle;
}

std::shared_ptr<ObjectHandle> ProxyAccess::Attach(const Manager& manager, const std::string& token,
                                                  Kind kind, Kind other_kind) {
  auto accepted = [&](Kind k) {
    return k == kind || (other_kind != Kind::kUnspecified && k == other_kind);
  };
  const Token parsed = ParseToken(token);
  if (!accepted(parsed.kind)) {
    throw TypeError("token '" + token + "' names a " + KindName(parsed.kind) + ", not a " +
                    KindName(kind));
  }
  ClientSession& session = manager.session();
  v1::LookupRequest request;
  request.set_id(parsed.id);
  // The server refuses an id of another start of itself.
  request.set_incarnation(FormatIncarnation(parsed.incarnation));
  std::shared_ptr<ObjectHandle> handle;
  try {
    handle = Start(session, nullptr, method::Manager::Lookup, request, KeepAlive(),
                   [](ClientSession& session, v1::LookupReply& reply) {
                     return session.AdoptRef(reply.ref());
                   })
                 .get();
  } catch (const KeyError&) {
    if (parsed.incarnation == session.incarnation()) throw;
    throw KeyError(absl::StrCat("token ", FormatToken(parsed.kind, parsed.id, parsed.incarnation),
                                " is from another start of the server (now ",
                                FormatIncarnation(session.incarnation()),
                                "); the object it named is gone"));
  }
  if (!accepted(handle->kind())) {
    throw TypeError("object " + std::to_string(parsed.id) + " is a " + KindName(handle->kind()) +
                    ", not a " + KindName(kind));
  }
  return handle;
}

const std::shared_ptr<ObjectHandle>& ProxyAccess::Handle(const ObjectProxy& proxy) {
  return proxy.handle_;
}

}  // namespace detail
}  // namespace shoal

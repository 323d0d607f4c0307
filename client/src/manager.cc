#include "shoal/manager.h"

#include <string>
#include <utility>

#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/errors.h"
#include "shoal/v1/manager.pb.h"

namespace shoal {

using detail::ClientSession;
using detail::KeepAlive;
using detail::ObjectHandle;
using detail::ProxyAccess;

Manager Manager::connect(const std::string& address, const AuthKey& key,
                         const ConnectOptions& options) {
  return Manager(ClientSession::Connect(address, key.secret(), options));
}

detail::ClientSession& Manager::session() const {
  if (session_ == nullptr) throw ConnectionError("this Manager is not connected");
  return *session_;
}

ListProxy Manager::list(std::string_view name) const {
  return ProxyAccess::Make<ListProxy>(
      ProxyAccess::Create(*this, Kind::kList, name, shoal::Value(), ""));
}

ListProxy Manager::list(shoal::Value::List initial, std::string_view name) const {
  return ProxyAccess::Make<ListProxy>(
      ProxyAccess::Create(*this, Kind::kList, name, shoal::Value(std::move(initial)), ""));
}

DictProxy Manager::dict(std::string_view name) const {
  return ProxyAccess::Make<DictProxy>(
      ProxyAccess::Create(*this, Kind::kDict, name, shoal::Value(), ""));
}

DictProxy Manager::dict(shoal::Value::Dict initial, std::string_view name) const {
  return ProxyAccess::Make<DictProxy>(
      ProxyAccess::Create(*this, Kind::kDict, name, shoal::Value(std::move(initial)), ""));
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
      ProxyAccess::Create(*this, Kind::kNamespace, name, shoal::Value(), ""));
}

ValueProxy Manager::Value(std::string typecode, shoal::Value initial, std::string_view name) const {
  return ProxyAccess::Make<ValueProxy>(
      ProxyAccess::Create(*this, Kind::kValue, name, initial, typecode));
}

std::vector<ObjectInfo> Manager::objects() const {
  ClientSession& session = this->session();
  // Drops made before this call must show in the counts.
  session.SettleReleases();
  auto reply =
      session.Call<v1::ListObjectsReply>("/shoal.v1.Manager/ListObjects", v1::ListObjectsRequest());
  std::vector<ObjectInfo> objects;
  objects.reserve(static_cast<size_t>(reply.objects_size()));
  for (const v1::ObjectInfo& info : reply.objects()) objects.push_back(detail::ToObjectInfo(info));
  return objects;
}

size_t Manager::object_count() const { return objects().size(); }

void Manager::delete_named(std::string_view name) const {
  v1::DeleteRequest request;
  request.set_name(std::string(name));
  session().Call<v1::DeleteReply>("/shoal.v1.Manager/Delete", request);
}

std::string Manager::session_id() const { return session().id(); }

void Manager::close() {
  if (session_ != nullptr) session_->Close();
}

namespace detail {

std::shared_ptr<ObjectHandle> ProxyAccess::Create(const Manager& manager, Kind kind,
                                                  std::string_view name, const Value& initial,
                                                  std::string_view typecode) {
  v1::CreateRequest request;
  request.set_kind(static_cast<v1::Kind>(kind));
  request.set_name(std::string(name));
  KeepAlive keep_alive;
  EncodeArg(initial, request.mutable_initial(), &keep_alive);
  request.set_typecode(std::string(typecode));
  std::shared_ptr<ObjectHandle> handle = manager.session().Call<v1::CreateReply>(
      "/shoal.v1.Manager/Create", request, std::move(keep_alive),
      [](ClientSession& session, v1::CreateReply& reply) { return session.AdoptRef(reply.ref()); });
  // A named object of another kind: the reference just taken goes back with
  // the handle.
  if (handle->kind() != kind) {
    throw TypeError("'" + std::string(name) + "' is a " + KindName(handle->kind()) + ", not a " +
                    KindName(kind));
  }
  return handle;
}

std::shared_ptr<ObjectHandle> ProxyAccess::Attach(const Manager& manager, const std::string& token,
                                                  Kind kind) {
  Kind token_kind = Kind::kUnspecified;
  uint64_t id = 0;
  ParseToken(token, &token_kind, &id);
  if (token_kind != kind) {
    throw TypeError("token '" + token + "' names a " + KindName(token_kind) + ", not a " +
                    KindName(kind));
  }
  v1::LookupRequest request;
  request.set_id(id);
  std::shared_ptr<ObjectHandle> handle = manager.session().Call<v1::LookupReply>(
      "/shoal.v1.Manager/Lookup", request, KeepAlive(),
      [](ClientSession& session, v1::LookupReply& reply) { return session.AdoptRef(reply.ref()); });
  if (handle->kind() != kind) {
    throw TypeError("object " + std::to_string(id) + " is a " + KindName(handle->kind()) +
                    ", not a " + KindName(kind));
  }
  return handle;
}

const std::shared_ptr<ObjectHandle>& ProxyAccess::Handle(const ObjectProxy& proxy) {
  return proxy.handle_;
}

}  // namespace detail
}  // namespace shoal

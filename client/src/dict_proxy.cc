#include "shoal/dict_proxy.h"

#include <utility>

#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/v1/dict.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;

}  // namespace

Value DictProxy::operator[](const Value& key) const {
  auto request = detail::RequestFor<v1::KeyRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.DictService/GetItem", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

Value DictProxy::get(const Value& key, const Value& default_value) const {
  auto request = detail::RequestFor<v1::GetRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  EncodeArg(default_value, request.mutable_default_(), &keep_alive);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.DictService/Get", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

void DictProxy::set(const Value& key, const Value& value) {
  auto request = detail::RequestFor<v1::SetRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  EncodeArg(value, request.mutable_value(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.DictService/SetItem", request,
                                          std::move(keep_alive));
}

void DictProxy::del(const Value& key) {
  auto request = detail::RequestFor<v1::KeyRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.DictService/DelItem", request,
                                          std::move(keep_alive));
}

bool DictProxy::contains(const Value& key) const {
  auto request = detail::RequestFor<v1::KeyRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  return handle()
      .session()
      .Call<v1::BoolReply>("/shoal.v1.DictService/Contains", request, std::move(keep_alive))
      .value();
}

Value DictProxy::setdefault(const Value& key, const Value& default_value) {
  auto request = detail::RequestFor<v1::SetRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  EncodeArg(default_value, request.mutable_value(), &keep_alive);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.DictService/SetDefault", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

Value DictProxy::pop(const Value& key) {
  auto request = detail::RequestFor<v1::GetRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  // No default: the server raises KeyError for a missing key.
  return handle().session().Call<v1::ValueReply>("/shoal.v1.DictService/Pop", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

Value DictProxy::pop(const Value& key, const Value& default_value) {
  auto request = detail::RequestFor<v1::GetRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(key, request.mutable_key(), &keep_alive);
  EncodeArg(default_value, request.mutable_default_(), &keep_alive);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.DictService/Pop", request,
                                                 std::move(keep_alive), detail::ValueOf);
}

DictProxy::Entry DictProxy::popitem() {
  return handle().session().Call<v1::EntryReply>(
      "/shoal.v1.DictService/PopItem", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::EntryOf);
}

void DictProxy::update(const std::vector<Entry>& entries) {
  auto request = detail::RequestFor<v1::UpdateRequest>(id());
  KeepAlive keep_alive;
  for (const auto& [key, value] : entries) {
    v1::Entry* entry = request.add_entries();
    EncodeArg(key, entry->mutable_key(), &keep_alive);
    EncodeArg(value, entry->mutable_value(), &keep_alive);
  }
  handle().session().Call<v1::EmptyReply>("/shoal.v1.DictService/Update", request,
                                          std::move(keep_alive));
}

void DictProxy::update(const Value::Dict& entries) {
  auto request = detail::RequestFor<v1::UpdateRequest>(id());
  KeepAlive keep_alive;
  for (const auto& [key, value] : entries) {
    v1::Entry* entry = request.add_entries();
    EncodeArg(key, entry->mutable_key(), &keep_alive);
    EncodeArg(value, entry->mutable_value(), &keep_alive);
  }
  handle().session().Call<v1::EmptyReply>("/shoal.v1.DictService/Update", request,
                                          std::move(keep_alive));
}

Value::List DictProxy::keys() const {
  return handle().session().Call<v1::ValuesReply>(
      "/shoal.v1.DictService/Keys", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::ValuesOf);
}

Value::List DictProxy::values() const {
  return handle().session().Call<v1::ValuesReply>(
      "/shoal.v1.DictService/Values", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::ValuesOf);
}

std::vector<DictProxy::Entry> DictProxy::items() const {
  return handle().session().Call<v1::EntriesReply>(
      "/shoal.v1.DictService/Items", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::EntriesOf);
}

size_t DictProxy::len() const {
  return static_cast<size_t>(
      handle()
          .session()
          .Call<v1::IntReply>("/shoal.v1.DictService/Len", detail::RequestFor<v1::ObjectRequest>(id()))
          .value());
}

void DictProxy::clear() {
  handle().session().Call<v1::EmptyReply>("/shoal.v1.DictService/Clear",
                                          detail::RequestFor<v1::ObjectRequest>(id()));
}

Value::Dict DictProxy::copy() const {
  Value copied = handle().session().Call<v1::ValueReply>(
      "/shoal.v1.DictService/Copy", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::ValueOf);
  if (copied.is_none()) return Value::Dict();
  return std::move(copied.as_dict());
}

}  // namespace shoal

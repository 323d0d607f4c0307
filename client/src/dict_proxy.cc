#include "shoal/dict_proxy.h"

#include <optional>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/reply_conversions.h"
#include "client/src/wire_request.h"
#include "shared/packed_values.h"
#include "shoal/v1/dict.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

using detail::AppendValueField;
using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;
using detail::NoResult;
using detail::RequestFor;
using detail::Start;
namespace method = detail::method;

Value::Dict DictOf(ClientSession& session, v1::ValueReply& reply) {
  Value copied = detail::ValueOf(session, reply);
  if (copied.is_none()) return Value::Dict();
  return std::move(copied.as_dict());
}

// A request naming one key, and its keep-alive.
template <class Request>
Request KeyRequest(const detail::AsyncTarget& target, const Value& key, KeepAlive* keep_alive) {
  auto request = RequestFor<Request>(target);
  EncodeArg(key, request.mutable_key(), keep_alive);
  return request;
}

// Update's request from (key, value) pairs of any container.
template <class Entries>
Future<void> Update(const detail::AsyncTarget& target, const Entries& entries) {
  bool refs = false;
  for (const auto& [key, value] : entries) refs = refs || key.contains_ref() || value.contains_ref();
  if (!refs) {
    // Written straight to the wire: UpdateRequest's id, then each Entry.
    detail::SerializedRequest request = detail::ObjectRequestBytes(target);
    std::string& out = request.bytes;
    std::string scratch, entry;
    for (const auto& [key, value] : entries) {
      entry.clear();
      AppendValueField(v1::Entry::kKeyFieldNumber, key, &scratch, &entry);
      AppendValueField(v1::Entry::kValueFieldNumber, value, &scratch, &entry);
      out.push_back(WireTag(v1::UpdateRequest::kEntriesFieldNumber, kWireLengthDelimited));
      AppendVarint(entry.size(), &out);
      out += entry;
    }
    return detail::StartSerialized(target, method::DictService::Update, std::move(request),
                                   KeepAlive(), NoResult);
  }
  detail::ArenaRequest<v1::UpdateRequest> request(target);
  KeepAlive keep_alive;
  request->mutable_entries()->Reserve(static_cast<int>(entries.size()));
  for (const auto& [key, value] : entries) {
    v1::Entry* entry = request->add_entries();
    EncodeArg(key, entry->mutable_key(), &keep_alive);
    EncodeArg(value, entry->mutable_value(), &keep_alive);
  }
  return Start(target, method::DictService::Update, *request, std::move(keep_alive), NoResult);
}

}  // namespace

DictProxy::iterator DictProxy::begin() const {
  return iterator(detail::ProxyAccess::Handle(*this));
}

DictProxy::iterator DictProxy::end() const { return iterator(); }

DictProxy::iterator::iterator(std::shared_ptr<detail::ObjectHandle> handle)
    : RemoteIterator(std::move(handle)) {
  Step(/*first=*/true);
}

namespace {

// One NextKey reply: the key (none when done) and the cursor that comes with
// it.
struct KeyStep {
  std::optional<Value> key;
  uint64_t stamp = 0;
  int64_t size = 0;
  int64_t index = 0;
};

KeyStep KeyStepOf(ClientSession& session, v1::NextKeyReply& reply) {
  KeyStep step;
  if (!reply.done()) step.key = session.Adopt(reply.key());
  step.stamp = reply.stamp();
  step.size = reply.size();
  step.index = reply.index();
  return step;
}

}  // namespace

void DictProxy::iterator::Step(bool first) {
  const detail::AsyncTarget target{handle_, nullptr};
  auto request = RequestFor<v1::NextKeyRequest>(target);
  KeepAlive keep_alive;
  if (!first) {
    EncodeArg(current_, request.mutable_after(), &keep_alive);
    request.set_stamp(stamp_);
    request.set_size(size_);
    request.set_index(index_);
  }
  KeyStep step =
      Start(target, method::DictService::NextKey, request, std::move(keep_alive), KeyStepOf).get();
  if (!step.key.has_value()) {
    Finish();
    return;
  }
  current_ = *std::move(step.key);
  stamp_ = step.stamp;
  size_ = step.size;
  index_ = step.index;
}

DictProxy::Async DictProxy::async() const { return Async(async_target(nullptr)); }
DictProxy::Async DictProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
DictProxy::Async DictProxy::now() const { return Async(immediate_target()); }

Future<Value> DictProxy::Async::item(const Value& key) {
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::KeyRequest>(target_, key, &keep_alive);
  return Start(target_, method::DictService::GetItem, request, std::move(keep_alive),
               detail::ValueOf);
}

Future<Value> DictProxy::Async::get(const Value& key, const Value& default_value) {
  if (auto wire = detail::ValuesRequest(target_,
                                        {{v1::GetRequest::kKeyFieldNumber, &key},
                                         {v1::GetRequest::kDefaultFieldNumber, &default_value}})) {
    return detail::StartSerialized(target_, method::DictService::Get, *std::move(wire),
                                   KeepAlive(), detail::ValueOf);
  }
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::GetRequest>(target_, key, &keep_alive);
  EncodeArg(default_value, request.mutable_default_(), &keep_alive);
  return Start(target_, method::DictService::Get, request, std::move(keep_alive), detail::ValueOf);
}

Future<void> DictProxy::Async::set(const Value& key, const Value& value) {
  if (auto wire = detail::ValuesRequest(target_, {{v1::SetRequest::kKeyFieldNumber, &key},
                                                  {v1::SetRequest::kValueFieldNumber, &value}})) {
    return detail::StartSerialized(target_, method::DictService::SetItem, *std::move(wire),
                                   KeepAlive(), NoResult);
  }
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::SetRequest>(target_, key, &keep_alive);
  EncodeArg(value, request.mutable_value(), &keep_alive);
  return Start(target_, method::DictService::SetItem, request, std::move(keep_alive), NoResult);
}

Future<void> DictProxy::Async::del(const Value& key) {
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::KeyRequest>(target_, key, &keep_alive);
  return Start(target_, method::DictService::DelItem, request, std::move(keep_alive), NoResult);
}

Future<bool> DictProxy::Async::contains(const Value& key) {
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::KeyRequest>(target_, key, &keep_alive);
  return Start(target_, method::DictService::Contains, request, std::move(keep_alive),
               detail::BoolOf);
}

Future<Value> DictProxy::Async::setdefault(const Value& key, const Value& default_value) {
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::SetRequest>(target_, key, &keep_alive);
  EncodeArg(default_value, request.mutable_value(), &keep_alive);
  return Start(target_, method::DictService::SetDefault, request, std::move(keep_alive),
               detail::ValueOf);
}

Future<Value> DictProxy::Async::pop(const Value& key) {
  KeepAlive keep_alive;
  // No default: the server raises KeyError for a missing key.
  auto request = KeyRequest<v1::GetRequest>(target_, key, &keep_alive);
  return Start(target_, method::DictService::Pop, request, std::move(keep_alive), detail::ValueOf);
}

Future<Value> DictProxy::Async::pop(const Value& key, const Value& default_value) {
  KeepAlive keep_alive;
  auto request = KeyRequest<v1::GetRequest>(target_, key, &keep_alive);
  EncodeArg(default_value, request.mutable_default_(), &keep_alive);
  return Start(target_, method::DictService::Pop, request, std::move(keep_alive), detail::ValueOf);
}

Future<DictProxy::Entry> DictProxy::Async::popitem() {
  return Start(target_, method::DictService::PopItem, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::EntryOf);
}

Future<void> DictProxy::Async::update(const std::vector<Entry>& entries) {
  return Update(target_, entries);
}

Future<void> DictProxy::Async::update(const Value::Dict& entries) {
  return Update(target_, entries);
}

Future<Value::List> DictProxy::Async::keys() {
  return Start(target_, method::DictService::Keys, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::ValuesOf);
}

Future<Value::List> DictProxy::Async::values() {
  return Start(target_, method::DictService::Values, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::ValuesOf);
}

Future<std::vector<DictProxy::Entry>> DictProxy::Async::items() {
  return Start(target_, method::DictService::Items, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::EntriesOf);
}

Future<size_t> DictProxy::Async::len() {
  return Start(target_, method::DictService::Len, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::SizeOf);
}

Future<void> DictProxy::Async::clear() {
  return Start(target_, method::DictService::Clear, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), NoResult);
}

Future<Value::Dict> DictProxy::Async::copy() {
  return Start(target_, method::DictService::Copy, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), DictOf);
}

// The blocking methods: the pipelined call, waited for.

Value DictProxy::operator[](const Value& key) const { return now().item(key).get(); }
Value DictProxy::get(const Value& key, const Value& default_value) const {
  return now().get(key, default_value).get();
}
void DictProxy::set(const Value& key, const Value& value) { now().set(key, value).get(); }
void DictProxy::del(const Value& key) { now().del(key).get(); }
bool DictProxy::contains(const Value& key) const { return now().contains(key).get(); }
Value DictProxy::setdefault(const Value& key, const Value& default_value) {
  return now().setdefault(key, default_value).get();
}
Value DictProxy::pop(const Value& key) { return now().pop(key).get(); }
Value DictProxy::pop(const Value& key, const Value& default_value) {
  return now().pop(key, default_value).get();
}
DictProxy::Entry DictProxy::popitem() { return now().popitem().get(); }
void DictProxy::update(const std::vector<Entry>& entries) { now().update(entries).get(); }
void DictProxy::update(const Value::Dict& entries) { now().update(entries).get(); }
Value::List DictProxy::keys() const { return now().keys().get(); }
Value::List DictProxy::values() const { return now().values().get(); }
std::vector<DictProxy::Entry> DictProxy::items() const { return now().items().get(); }
size_t DictProxy::len() const { return now().len().get(); }
void DictProxy::clear() { now().clear().get(); }
Value::Dict DictProxy::copy() const { return now().copy().get(); }

}  // namespace shoal

#include "shoal/list_proxy.h"

#include <algorithm>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "client/src/call.h"
#include "client/src/client_session.h"
#include "client/src/methods.h"
#include "client/src/reply_conversions.h"
#include "client/src/slice_calls.h"
#include "client/src/wire_request.h"
#include "shoal/errors.h"
#include "shoal/v1/list.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;
using detail::NoResult;
using detail::RequestFor;
using detail::Start;
namespace method = detail::method;

Value::List ListOf(ClientSession& session, v1::ValueReply& reply) {
  Value copied = detail::ValueOf(session, reply);
  if (copied.is_none()) return Value::List();
  return std::move(copied.as_list());
}

}  // namespace

ListProxy::iterator ListProxy::begin() const {
  return iterator(detail::ProxyAccess::Handle(*this));
}

ListProxy::iterator ListProxy::end() const { return iterator(); }

ListProxy::iterator::iterator(std::shared_ptr<detail::ObjectHandle> handle)
    : RemoteIterator(std::move(handle)) {
  Read();
}

void ListProxy::iterator::Read() {
  // Python's sequence iteration: lst[index] until IndexError.
  try {
    current_ = Async(detail::AsyncTarget{handle_, nullptr}).get(index_).get();
  } catch (const IndexError&) {
    Finish();
  }
}

ListProxy::Async ListProxy::async() const { return Async(async_target(nullptr)); }
ListProxy::Async ListProxy::async(Batch& batch) const { return Async(async_target(&batch)); }
ListProxy::Async ListProxy::now() const { return Async(immediate_target()); }

Future<void> ListProxy::Async::append(const Value& item) {
  if (auto wire = detail::ValuesRequest(target_, {{v1::ItemRequest::kItemFieldNumber, &item}})) {
    return detail::StartSerialized(target_, method::ListService::Append, *std::move(wire),
                                   KeepAlive(), NoResult);
  }
  auto request = RequestFor<v1::ItemRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::Append, request, std::move(keep_alive), NoResult);
}

Future<void> ListProxy::Async::extend(const Value::List& items) {
  bool refs = false;
  for (const Value& item : items) refs = refs || item.contains_ref();
  if (!refs) {
    // Written straight to the wire: ItemsRequest's id, then each item.
    detail::SerializedRequest request = detail::ObjectRequestBytes(target_);
    std::string scratch;
    for (const Value& item : items) {
      detail::AppendValueField(v1::ItemsRequest::kItemsFieldNumber, item, &scratch,
                               &request.bytes);
    }
    return detail::StartSerialized(target_, method::ListService::Extend, std::move(request),
                                   KeepAlive(), NoResult);
  }
  detail::ArenaRequest<v1::ItemsRequest> request(target_);
  KeepAlive keep_alive;
  detail::EncodeArgs(items, request->mutable_items(), &keep_alive);
  return Start(target_, method::ListService::Extend, *request, std::move(keep_alive), NoResult);
}

Future<void> ListProxy::Async::insert(int64_t index, const Value& item) {
  auto request = RequestFor<v1::InsertRequest>(target_);
  request.set_index(index);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::Insert, request, std::move(keep_alive), NoResult);
}

Future<Value> ListProxy::Async::pop() {
  return Start(target_, method::ListService::Pop, RequestFor<v1::PopRequest>(target_), KeepAlive(),
               detail::ValueOf);
}

Future<Value> ListProxy::Async::pop(int64_t index) {
  auto request = RequestFor<v1::PopRequest>(target_);
  request.set_index(index);
  return Start(target_, method::ListService::Pop, request, KeepAlive(), detail::ValueOf);
}

Future<void> ListProxy::Async::remove(const Value& item) {
  auto request = RequestFor<v1::ItemRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::Remove, request, std::move(keep_alive), NoResult);
}

Future<int64_t> ListProxy::Async::index(const Value& item, std::optional<int64_t> start,
                                        std::optional<int64_t> stop) {
  auto request = RequestFor<v1::IndexOfRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  if (start) request.set_start(*start);
  if (stop) request.set_stop(*stop);
  return Start(target_, method::ListService::Index, request, std::move(keep_alive), detail::IntOf);
}

Future<size_t> ListProxy::Async::count(const Value& item) {
  auto request = RequestFor<v1::ItemRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::Count, request, std::move(keep_alive), detail::SizeOf);
}

Future<void> ListProxy::Async::reverse() {
  return Start(target_, method::ListService::Reverse, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), NoResult);
}

Future<void> ListProxy::Async::sort(bool reverse) {
  auto request = RequestFor<v1::SortRequest>(target_);
  request.set_reverse(reverse);
  return Start(target_, method::ListService::Sort, request, KeepAlive(), NoResult);
}

Future<Value> ListProxy::Async::get(int64_t index) {
  auto request = RequestFor<v1::IndexRequest>(target_);
  request.set_index(index);
  return Start(target_, method::ListService::GetItem, request, KeepAlive(), detail::ValueOf);
}

Future<void> ListProxy::Async::set(int64_t index, const Value& item) {
  auto request = RequestFor<v1::SetItemRequest>(target_);
  request.set_index(index);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::SetItem, request, std::move(keep_alive), NoResult);
}

Future<void> ListProxy::Async::del(int64_t index) {
  auto request = RequestFor<v1::IndexRequest>(target_);
  request.set_index(index);
  return Start(target_, method::ListService::DelItem, request, KeepAlive(), NoResult);
}

Future<Value::List> ListProxy::Async::slice(std::optional<int64_t> start,
                                            std::optional<int64_t> stop,
                                            std::optional<int64_t> step) {
  return detail::StartGetSlice(target_, method::ListService::GetSlice, start, stop, step);
}

Future<void> ListProxy::Async::set_slice(std::optional<int64_t> start,
                                         std::optional<int64_t> stop, const Value::List& items) {
  return set_slice(start, stop, std::nullopt, items);
}

Future<void> ListProxy::Async::set_slice(std::optional<int64_t> start,
                                         std::optional<int64_t> stop,
                                         std::optional<int64_t> step, const Value::List& items) {
  return detail::StartSetSlice(
      target_, method::ListService::SetSlice, start, stop, step, items,
      [](v1::SetSliceRequest& request) { return request.mutable_items(); });
}

Future<void> ListProxy::Async::del_slice(std::optional<int64_t> start,
                                         std::optional<int64_t> stop,
                                         std::optional<int64_t> step) {
  auto request = RequestFor<v1::SliceRequest>(target_);
  detail::SetBounds(&request, start, stop, step);
  return Start(target_, method::ListService::DelSlice, request, KeepAlive(), NoResult);
}

Future<size_t> ListProxy::Async::len() {
  return Start(target_, method::ListService::Len, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), detail::SizeOf);
}

Future<bool> ListProxy::Async::contains(const Value& item) {
  auto request = RequestFor<v1::ItemRequest>(target_);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return Start(target_, method::ListService::Contains, request, std::move(keep_alive),
               detail::BoolOf);
}

Future<void> ListProxy::Async::clear() {
  return Start(target_, method::ListService::Clear, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), NoResult);
}

Future<Value::List> ListProxy::Async::copy() {
  return Start(target_, method::ListService::Copy, RequestFor<v1::ObjectRequest>(target_),
               KeepAlive(), ListOf);
}

Future<void> ListProxy::Async::repeat(int64_t count) {
  auto request = RequestFor<v1::RepeatRequest>(target_);
  request.set_count(count);
  return Start(target_, method::ListService::Repeat, request, KeepAlive(), NoResult);
}

// The blocking methods: the pipelined call, waited for.

void ListProxy::append(const Value& item) { now().append(item).get(); }
void ListProxy::extend(const Value::List& items) { now().extend(items).get(); }
void ListProxy::insert(int64_t index, const Value& item) { now().insert(index, item).get(); }
Value ListProxy::pop() { return now().pop().get(); }
Value ListProxy::pop(int64_t index) { return now().pop(index).get(); }
void ListProxy::remove(const Value& item) { now().remove(item).get(); }
int64_t ListProxy::index(const Value& item, std::optional<int64_t> start,
                         std::optional<int64_t> stop) const {
  return now().index(item, start, stop).get();
}
size_t ListProxy::count(const Value& item) const { return now().count(item).get(); }
void ListProxy::reverse() { now().reverse().get(); }
void ListProxy::sort(bool reverse) { now().sort(reverse).get(); }
Value ListProxy::get(int64_t index) const { return now().get(index).get(); }
void ListProxy::set(int64_t index, const Value& item) { now().set(index, item).get(); }
void ListProxy::del(int64_t index) { now().del(index).get(); }
Value::List ListProxy::slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                             std::optional<int64_t> step) const {
  return now().slice(start, stop, step).get();
}
void ListProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          const Value::List& items) {
  now().set_slice(start, stop, items).get();
}
void ListProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          std::optional<int64_t> step, const Value::List& items) {
  now().set_slice(start, stop, step, items).get();
}
void ListProxy::del_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          std::optional<int64_t> step) {
  now().del_slice(start, stop, step).get();
}
size_t ListProxy::len() const { return now().len().get(); }
bool ListProxy::contains(const Value& item) const { return now().contains(item).get(); }
void ListProxy::clear() { now().clear().get(); }
Value::List ListProxy::copy() const { return now().copy().get(); }

ListProxy& ListProxy::operator+=(const Value::List& items) {
  extend(items);
  return *this;
}

ListProxy& ListProxy::operator*=(int64_t count) {
  now().repeat(count).get();
  return *this;
}

Value::List ListProxy::operator+(const Value::List& items) const {
  Value::List out = copy();
  out.insert(out.end(), items.begin(), items.end());
  return out;
}

Value::List ListProxy::operator*(int64_t count) const {
  Value::List items = copy();
  if (count <= 0) return Value::List();
  if (count == 1 || items.empty()) return items;
  const size_t length = items.size();
  const LimitError too_large("cannot repeat a list of " + std::to_string(length) + " items " +
                             std::to_string(count) + " times: too large");
  if (length > items.max_size() / static_cast<uint64_t>(count)) throw too_large;
  Value::List out;
  try {
    out.reserve(length * static_cast<size_t>(count));
  } catch (const std::bad_alloc&) {
    throw too_large;  // Python's MemoryError
  } catch (const std::length_error&) {
    throw too_large;
  }
  for (int64_t i = 0; i < count; ++i) out.insert(out.end(), items.begin(), items.end());
  return out;
}

Value::List ListProxy::reversed() const {
  Value::List items = copy();
  std::reverse(items.begin(), items.end());
  return items;
}

}  // namespace shoal

#include "shoal/list_proxy.h"

#include <optional>
#include <utility>

#include "client/src/client_session.h"
#include "client/src/object_handle.h"
#include "client/src/reply_conversions.h"
#include "shoal/v1/list.pb.h"
#include "shoal/v1/object.pb.h"

namespace shoal {
namespace {

using detail::ClientSession;
using detail::EncodeArg;
using detail::KeepAlive;

// Sets the optional slice bounds of a SliceRequest or SetSliceRequest;
// an absent bound is Python's None.
template <class Request>
void SetBounds(Request* request, std::optional<int64_t> start, std::optional<int64_t> stop,
               std::optional<int64_t> step) {
  if (start) request->set_start(*start);
  if (stop) request->set_stop(*stop);
  if (step) request->set_step(*step);
}

}  // namespace

void ListProxy::append(const Value& item) {
  auto request = detail::RequestFor<v1::ItemRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Append", request,
                                          std::move(keep_alive));
}

void ListProxy::extend(const Value::List& items) {
  auto request = detail::RequestFor<v1::ItemsRequest>(id());
  KeepAlive keep_alive;
  for (const Value& item : items) EncodeArg(item, request.add_items(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Extend", request,
                                          std::move(keep_alive));
}

void ListProxy::insert(int64_t index, const Value& item) {
  auto request = detail::RequestFor<v1::InsertRequest>(id());
  request.set_index(index);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Insert", request,
                                          std::move(keep_alive));
}

Value ListProxy::pop() {
  auto request = detail::RequestFor<v1::PopRequest>(id());
  return handle().session().Call<v1::ValueReply>("/shoal.v1.ListService/Pop", request, KeepAlive(),
                                                 detail::ValueOf);
}

Value ListProxy::pop(int64_t index) {
  auto request = detail::RequestFor<v1::PopRequest>(id());
  request.set_index(index);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.ListService/Pop", request, KeepAlive(),
                                                 detail::ValueOf);
}

void ListProxy::remove(const Value& item) {
  auto request = detail::RequestFor<v1::ItemRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Remove", request,
                                          std::move(keep_alive));
}

int64_t ListProxy::index(const Value& item, std::optional<int64_t> start,
                         std::optional<int64_t> stop) const {
  auto request = detail::RequestFor<v1::IndexOfRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  if (start) request.set_start(*start);
  if (stop) request.set_stop(*stop);
  return handle()
      .session()
      .Call<v1::IntReply>("/shoal.v1.ListService/Index", request, std::move(keep_alive))
      .value();
}

size_t ListProxy::count(const Value& item) const {
  auto request = detail::RequestFor<v1::ItemRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return static_cast<size_t>(
      handle()
          .session()
          .Call<v1::IntReply>("/shoal.v1.ListService/Count", request, std::move(keep_alive))
          .value());
}

void ListProxy::reverse() {
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Reverse",
                                          detail::RequestFor<v1::ObjectRequest>(id()));
}

void ListProxy::sort(bool reverse) {
  auto request = detail::RequestFor<v1::SortRequest>(id());
  request.set_reverse(reverse);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Sort", request);
}

Value ListProxy::get(int64_t index) const {
  auto request = detail::RequestFor<v1::IndexRequest>(id());
  request.set_index(index);
  return handle().session().Call<v1::ValueReply>("/shoal.v1.ListService/GetItem", request,
                                                 KeepAlive(), detail::ValueOf);
}

void ListProxy::set(int64_t index, const Value& item) {
  auto request = detail::RequestFor<v1::SetItemRequest>(id());
  request.set_index(index);
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/SetItem", request,
                                          std::move(keep_alive));
}

void ListProxy::del(int64_t index) {
  auto request = detail::RequestFor<v1::IndexRequest>(id());
  request.set_index(index);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/DelItem", request);
}

Value::List ListProxy::slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                             std::optional<int64_t> step) const {
  auto request = detail::RequestFor<v1::SliceRequest>(id());
  SetBounds(&request, start, stop, step);
  return handle().session().Call<v1::ValuesReply>("/shoal.v1.ListService/GetSlice", request,
                                                  KeepAlive(), detail::ValuesOf);
}

void ListProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          const Value::List& items) {
  set_slice(start, stop, std::nullopt, items);
}

void ListProxy::set_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          std::optional<int64_t> step, const Value::List& items) {
  auto request = detail::RequestFor<v1::SetSliceRequest>(id());
  SetBounds(&request, start, stop, step);
  KeepAlive keep_alive;
  for (const Value& item : items) EncodeArg(item, request.add_items(), &keep_alive);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/SetSlice", request,
                                          std::move(keep_alive));
}

void ListProxy::del_slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                          std::optional<int64_t> step) {
  auto request = detail::RequestFor<v1::SliceRequest>(id());
  SetBounds(&request, start, stop, step);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/DelSlice", request);
}

size_t ListProxy::len() const {
  return static_cast<size_t>(
      handle()
          .session()
          .Call<v1::IntReply>("/shoal.v1.ListService/Len", detail::RequestFor<v1::ObjectRequest>(id()))
          .value());
}

bool ListProxy::contains(const Value& item) const {
  auto request = detail::RequestFor<v1::ItemRequest>(id());
  KeepAlive keep_alive;
  EncodeArg(item, request.mutable_item(), &keep_alive);
  return handle()
      .session()
      .Call<v1::BoolReply>("/shoal.v1.ListService/Contains", request, std::move(keep_alive))
      .value();
}

void ListProxy::clear() {
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Clear",
                                          detail::RequestFor<v1::ObjectRequest>(id()));
}

Value::List ListProxy::copy() const {
  Value copied = handle().session().Call<v1::ValueReply>(
      "/shoal.v1.ListService/Copy", detail::RequestFor<v1::ObjectRequest>(id()), KeepAlive(), detail::ValueOf);
  if (copied.is_none()) return Value::List();
  return std::move(copied.as_list());
}

ListProxy& ListProxy::operator+=(const Value::List& items) {
  extend(items);
  return *this;
}

ListProxy& ListProxy::operator*=(int64_t count) {
  auto request = detail::RequestFor<v1::RepeatRequest>(id());
  request.set_count(count);
  handle().session().Call<v1::EmptyReply>("/shoal.v1.ListService/Repeat", request);
  return *this;
}

}  // namespace shoal

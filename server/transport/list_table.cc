#include <algorithm>

#include "server/objects/list_object.h"
#include "server/transport/tables.h"
#include "shared/packed_values.h"
#include "shoal/v1/list.pb.h"

namespace shoal::server {
namespace {

template <typename Req, typename Resp>
Method Op(absl::string_view name,
          std::function<absl::Status(CallContext&, ListObject&, const Req&, Resp&)> fn) {
  return ObjectRow<ListObject, Req, Resp>("shoal.v1.ListService", name, Kind::kList,
                                          std::move(fn));
}

std::vector<Method> Rows() {
  using v1::BoolReply;
  using v1::EmptyReply;
  using v1::IntReply;
  using v1::ObjectRequest;
  using v1::ValueReply;
  using v1::ValuesReply;
  std::vector<Method> rows;
  // Read from the wire: a plain item straight into a Value.
  rows.push_back(WireRow<ListObject, v1::ItemRequest, EmptyReply>(
      "shoal.v1.ListService", "Append", Kind::kList,
      [](CallContext& c, ListObject& l, absl::string_view request, EmptyReply&) {
        WireParts parts[1];
        if (!WireFields(request, {3}, parts)) {
          return MalformedRequest();
        }
        Value item;
        if (absl::Status s = StoreWireValue(c, l, parts[0], &item); !s.ok()) return s;
        return l.Append(std::move(item));
      }));
  rows.push_back(WireRow<ListObject, v1::ItemsRequest, EmptyReply>(
      "shoal.v1.ListService", "Extend", Kind::kList,
      [](CallContext& c, ListObject& l, absl::string_view request, EmptyReply&) {
        WireParts parts[1];
        if (!WireFields(request, {v1::ItemsRequest::kItemsFieldNumber}, parts)) {
          return MalformedRequest();
        }
        // A repeated field: each occurrence is an item of its own. Plain
        // ones are built in place at the list's end; with any other, the
        // items are decoded first, as values that may hold references are.
        std::optional<absl::Status> in_place = l.ExtendInPlace([&](ListObject::Items* out) {
          // Room for them all at once (blocks added, none moved).
          out->reserve(out->size() + parts[0].size());
          for (absl::string_view part : parts[0]) {
            if (!AppendPlainValue(part, /*check_utf8=*/true, out)) return false;
          }
          return true;
        });
        if (in_place.has_value()) return *in_place;
        Value::List items;
        items.reserve(parts[0].size());
        WireParts one(1);
        for (absl::string_view part : parts[0]) {
          one[0] = part;
          if (absl::Status s = StoreWireValue(c, l, one, &items.emplace_back()); !s.ok()) {
            return s;
          }
        }
        return l.Extend(std::move(items));
      }));
  rows.push_back(Op<v1::InsertRequest, EmptyReply>(
      "Insert", [](CallContext& c, ListObject& l, const v1::InsertRequest& r, EmptyReply&) {
        absl::StatusOr<Value> item = c.Store(r.item(), l);
        return item.ok() ? l.Insert(r.index(), *std::move(item)) : item.status();
      }));
  rows.push_back(Op<v1::PopRequest, ValueReply>(
      "Pop", [](CallContext& c, ListObject& l, const v1::PopRequest& r, ValueReply& out) {
        return GiveValue(c, l.Pop(r.has_index() ? std::optional<int64_t>(r.index()) : std::nullopt),
                         out);
      }));
  rows.push_back(Op<v1::ItemRequest, EmptyReply>(
      "Remove", [](CallContext& c, ListObject& l, const v1::ItemRequest& r, EmptyReply&) {
        absl::StatusOr<Value> item = c.Read(r.item());
        return item.ok() ? l.Remove(*item) : item.status();
      }));
  rows.push_back(Op<v1::IndexOfRequest, IntReply>(
      "Index", [](CallContext& c, ListObject& l, const v1::IndexOfRequest& r, IntReply& out) {
        absl::StatusOr<Value> item = c.Read(r.item());
        if (!item.ok()) return item.status();
        absl::StatusOr<int64_t> at = l.Index(*item, StartOf(r), StopOf(r));
        if (!at.ok()) return at.status();
        out.set_value(*at);
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::ItemRequest, IntReply>(
      "Count", [](CallContext& c, ListObject& l, const v1::ItemRequest& r, IntReply& out) {
        absl::StatusOr<Value> item = c.Read(r.item());
        if (!item.ok()) return item.status();
        out.set_value(l.Count(*item));
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, EmptyReply>(
      "Reverse", [](CallContext&, ListObject& l, const ObjectRequest&, EmptyReply&) {
        l.Reverse();
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::SortRequest, EmptyReply>(
      "Sort", [](CallContext&, ListObject& l, const v1::SortRequest& r, EmptyReply&) {
        return l.Sort(r.reverse());
      }));
  rows.push_back(Op<v1::IndexRequest, ValueReply>(
      "GetItem", [](CallContext& c, ListObject& l, const v1::IndexRequest& r, ValueReply& out) {
        return GiveValue(c, l.GetItem(r.index()), out);
      }));
  rows.push_back(Op<v1::SetItemRequest, EmptyReply>(
      "SetItem", [](CallContext& c, ListObject& l, const v1::SetItemRequest& r, EmptyReply&) {
        absl::StatusOr<Value> item = c.Store(r.item(), l);
        return item.ok() ? l.SetItem(r.index(), *std::move(item)) : item.status();
      }));
  rows.push_back(Op<v1::IndexRequest, EmptyReply>(
      "DelItem", [](CallContext&, ListObject& l, const v1::IndexRequest& r, EmptyReply&) {
        return l.DelItem(r.index());
      }));
  rows.push_back(Op<v1::SliceRequest, ValuesReply>(
      "GetSlice", [](CallContext& c, ListObject& l, const v1::SliceRequest& r, ValuesReply& out) {
        return GiveValues(c, l.GetSlice(StartOf(r), StopOf(r), StepOf(r)), out);
      }));
  rows.push_back(Op<v1::SetSliceRequest, EmptyReply>(
      "SetSlice", [](CallContext& c, ListObject& l, const v1::SetSliceRequest& r, EmptyReply&) {
        absl::StatusOr<Value::List> items = StoreAll(c, r.items(), l);
        if (!items.ok()) return items.status();
        return l.SetSlice(StartOf(r), StopOf(r), StepOf(r), *std::move(items));
      }));
  rows.push_back(Op<v1::SliceRequest, EmptyReply>(
      "DelSlice", [](CallContext&, ListObject& l, const v1::SliceRequest& r, EmptyReply&) {
        return l.DelSlice(StartOf(r), StopOf(r), StepOf(r));
      }));
  rows.push_back(Op<ObjectRequest, IntReply>(
      "Len", [](CallContext&, ListObject& l, const ObjectRequest&, IntReply& out) {
        out.set_value(l.Len());
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::ItemRequest, BoolReply>(
      "Contains", [](CallContext& c, ListObject& l, const v1::ItemRequest& r, BoolReply& out) {
        absl::StatusOr<Value> item = c.Read(r.item());
        if (!item.ok()) return item.status();
        out.set_value(l.Contains(*item));
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, EmptyReply>(
      "Clear", [](CallContext&, ListObject& l, const ObjectRequest&, EmptyReply&) {
        l.Clear();
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, ValueReply>(
      "Copy", [](CallContext& c, ListObject& l, const ObjectRequest&, ValueReply& out) {
        c.Give(Value(l.Copy()), out.mutable_value());
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::RepeatRequest, EmptyReply>(
      "Repeat", [](CallContext&, ListObject& l, const v1::RepeatRequest& r, EmptyReply&) {
        return l.Repeat(r.count());
      }));
  return rows;
}

}  // namespace

const DispatchTable& ListTable() {
  static const DispatchTable* table = new DispatchTable("shoal.v1.ListService", Rows());
  return *table;
}

}  // namespace shoal::server

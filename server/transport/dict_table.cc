#include <algorithm>
#include <tuple>
#include <utility>

#include "server/objects/dict_object.h"
#include "server/transport/tables.h"
#include "shared/packed_values.h"
#include "shoal/v1/dict.pb.h"

namespace shoal::server {
namespace {

template <typename Req, typename Resp>
Method Op(absl::string_view name,
          std::function<absl::Status(CallContext&, DictObject&, const Req&, Resp&)> fn) {
  return ObjectRow<DictObject, Req, Resp>("shoal.v1.DictService", name, Kind::kDict,
                                          std::move(fn));
}

// The entries of an UpdateRequest (field 3, each an Entry: key 1, value 2),
// read from its wire form.
absl::StatusOr<std::vector<std::pair<Value, Value>>> EntriesOf(CallContext& c, DictObject& d,
                                                               absl::string_view request) {
  std::vector<std::pair<Value, Value>> entries;
  // Small entries mostly; capped as a large request may hold large ones.
  entries.reserve(std::min<size_t>(request.size() / 16, 1 << 14));
  WireReader in(request);
  WireParts parts[2];
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view entry;
    if (!in.Field(&number, &type, &entry)) return MalformedRequest();
    if (number != 3) continue;
    if (type != kWireLengthDelimited) return MalformedRequest();
    parts[0].clear();
    parts[1].clear();
    if (!WireFields(entry, {1, 2}, parts)) return MalformedRequest();
    // Plain keys and values (most) are built where they are kept; the others
    // decoded into an entry made for them.
    if (parts[0].size() == 1 && parts[1].size() == 1) {
      bool plain = false;
      ReadPlainValue(parts[0][0], /*check_utf8=*/true, [&](auto&&... key) {
        plain = ReadPlainValue(parts[1][0], /*check_utf8=*/true, [&](auto&&... value) {
          entries.emplace_back(std::piecewise_construct,
                               std::forward_as_tuple(std::forward<decltype(key)>(key)...),
                               std::forward_as_tuple(std::forward<decltype(value)>(value)...));
        });
      });
      if (plain) continue;
    }
    auto& [key, value] = entries.emplace_back();
    if (absl::Status s = StoreWireValue(c, d, parts[0], &key); !s.ok()) return s;
    if (absl::Status s = StoreWireValue(c, d, parts[1], &value); !s.ok()) return s;
  }
  return entries;
}

std::vector<Method> Rows() {
  using v1::BoolReply;
  using v1::EmptyReply;
  using v1::GetRequest;
  using v1::IntReply;
  using v1::KeyRequest;
  using v1::ObjectRequest;
  using v1::SetRequest;
  using v1::ValueReply;
  using v1::ValuesReply;
  std::vector<Method> rows;
  rows.push_back(Op<KeyRequest, ValueReply>(
      "GetItem", [](CallContext& c, DictObject& d, const KeyRequest& r, ValueReply& out) {
        absl::StatusOr<Value> key = c.Read(r.key());
        return key.ok() ? GiveValue(c, d.GetItem(*key), out) : key.status();
      }));
  rows.push_back(WireValueRow<DictObject, GetRequest>(
      "shoal.v1.DictService", "Get", Kind::kDict,
      [](CallContext& c, DictObject& d, absl::string_view request) -> absl::StatusOr<Value> {
        WireParts parts[2];
        if (!WireFields(request, {GetRequest::kKeyFieldNumber, GetRequest::kDefaultFieldNumber},
                        parts)) {
          return MalformedRequest();
        }
        Value key, fallback;
        if (absl::Status read = ReadWireValue(c, parts[0], &key); !read.ok()) return read;
        // The default is handed back, never stored: read it, don't store it.
        if (absl::Status read = ReadWireValue(c, parts[1], &fallback); !read.ok()) return read;
        return d.Get(key, std::move(fallback));
      }));
  rows.push_back(WireRow<DictObject, SetRequest, EmptyReply>(
      "shoal.v1.DictService", "SetItem", Kind::kDict,
      [](CallContext& c, DictObject& d, absl::string_view request, EmptyReply&) {
        WireParts parts[2];
        if (!WireFields(request, {3, 4}, parts)) return MalformedRequest();
        Value key, value;
        if (absl::Status s = StoreWireValue(c, d, parts[0], &key); !s.ok()) return s;
        if (absl::Status s = StoreWireValue(c, d, parts[1], &value); !s.ok()) return s;
        return d.SetItem(std::move(key), std::move(value));
      }));
  rows.push_back(Op<KeyRequest, EmptyReply>(
      "DelItem", [](CallContext& c, DictObject& d, const KeyRequest& r, EmptyReply&) {
        absl::StatusOr<Value> key = c.Read(r.key());
        return key.ok() ? d.DelItem(*key) : key.status();
      }));
  rows.push_back(Op<KeyRequest, BoolReply>(
      "Contains", [](CallContext& c, DictObject& d, const KeyRequest& r, BoolReply& out) {
        absl::StatusOr<Value> key = c.Read(r.key());
        if (!key.ok()) return key.status();
        absl::StatusOr<bool> found = d.Contains(*key);
        if (!found.ok()) return found.status();
        out.set_value(*found);
        return absl::OkStatus();
      }));
  rows.push_back(Op<SetRequest, ValueReply>(
      "SetDefault", [](CallContext& c, DictObject& d, const SetRequest& r, ValueReply& out) {
        absl::StatusOr<Value> key = c.Store(r.key(), d);
        if (!key.ok()) return key.status();
        absl::StatusOr<Value> value = c.Store(r.value(), d);
        if (!value.ok()) return value.status();
        return GiveValue(c, d.SetDefault(*std::move(key), *std::move(value)), out);
      }));
  rows.push_back(Op<GetRequest, ValueReply>(
      "Pop", [](CallContext& c, DictObject& d, const GetRequest& r, ValueReply& out) {
        absl::StatusOr<Value> key = c.Read(r.key());
        if (!key.ok()) return key.status();
        std::optional<Value> fallback;
        if (r.has_default_()) {
          absl::StatusOr<Value> read = c.Read(r.default_());
          if (!read.ok()) return read.status();
          fallback = *std::move(read);
        }
        return GiveValue(c, d.Pop(*key, std::move(fallback)), out);
      }));
  rows.push_back(Op<ObjectRequest, v1::EntryReply>(
      "PopItem", [](CallContext& c, DictObject& d, const ObjectRequest&, v1::EntryReply& out) {
        absl::StatusOr<std::pair<Value, Value>> entry = d.PopItem();
        if (!entry.ok()) return entry.status();
        c.Give(entry->first, out.mutable_key());
        c.Give(entry->second, out.mutable_value());
        return absl::OkStatus();
      }));
  // Read from the wire: a plain key or value straight into a Value, the
  // others (lists, dicts, references) through v1::Value as every row.
  rows.push_back(WireRow<DictObject, v1::UpdateRequest, EmptyReply>(
      "shoal.v1.DictService", "Update", Kind::kDict,
      [](CallContext& c, DictObject& d, absl::string_view request, EmptyReply&) {
        absl::StatusOr<std::vector<std::pair<Value, Value>>> entries = EntriesOf(c, d, request);
        if (!entries.ok()) return entries.status();
        return d.Update(*std::move(entries));
      }));
  rows.push_back(Op<ObjectRequest, ValuesReply>(
      "Keys", [](CallContext& c, DictObject& d, const ObjectRequest&, ValuesReply& out) {
        GiveAll(c, d.Keys(), out.mutable_values());
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, ValuesReply>(
      "Values", [](CallContext& c, DictObject& d, const ObjectRequest&, ValuesReply& out) {
        GiveAll(c, d.Values(), out.mutable_values());
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, v1::EntriesReply>(
      "Items", [](CallContext& c, DictObject& d, const ObjectRequest&, v1::EntriesReply& out) {
        for (const auto& [key, value] : d.Items()) {
          v1::Entry* entry = out.add_entries();
          c.Give(key, entry->mutable_key());
          c.Give(value, entry->mutable_value());
        }
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, IntReply>(
      "Len", [](CallContext&, DictObject& d, const ObjectRequest&, IntReply& out) {
        out.set_value(d.Len());
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, EmptyReply>(
      "Clear", [](CallContext&, DictObject& d, const ObjectRequest&, EmptyReply&) {
        d.Clear();
        return absl::OkStatus();
      }));
  rows.push_back(Op<ObjectRequest, ValueReply>(
      "Copy", [](CallContext& c, DictObject& d, const ObjectRequest&, ValueReply& out) {
        c.Give(Value(d.Copy()), out.mutable_value());
        return absl::OkStatus();
      }));
  rows.push_back(Op<v1::NextKeyRequest, v1::NextKeyReply>(
      "NextKey",
      [](CallContext& c, DictObject& d, const v1::NextKeyRequest& r, v1::NextKeyReply& out) {
        DictObject::KeyCursor cursor;
        if (r.has_after()) {
          absl::StatusOr<Value> after = c.Read(r.after());
          if (!after.ok()) return after.status();
          cursor.after = *std::move(after);
        }
        cursor.stamp = r.stamp();
        cursor.size = r.size();
        cursor.index = r.index();
        absl::StatusOr<DictObject::KeyStep> step = d.NextKey(cursor);
        if (!step.ok()) return step.status();
        out.set_done(!step->key.has_value());
        if (step->key.has_value()) c.Give(*step->key, out.mutable_key());
        out.set_stamp(step->next.stamp);
        out.set_size(step->next.size);
        out.set_index(step->next.index);
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& DictTable() {
  static const DispatchTable* table = new DispatchTable("shoal.v1.DictService", Rows());
  return *table;
}

}  // namespace shoal::server

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/objects/dict_object.h"
#include "server/objects/list_object.h"
#include "server/objects/namespace_object.h"
#include "server/objects/value_object.h"
#include "server/transport/tables.h"
#include "shared/error_kind.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.Manager";
// Listings cut long reprs; Describe gives the whole.
constexpr size_t kListedReprLimit = 200;

// Builds a new object of the requested kind from its initial value.
absl::StatusOr<std::unique_ptr<Object>> MakeObject(Core& core, const v1::CreateRequest& r,
                                                   Value initial) {
  MemoryBudget* budget = &core.budget();
  const bool holds_refs = initial.contains_ref();
  absl::StatusOr<std::unique_ptr<Object>> made;
  switch (static_cast<Kind>(r.kind())) {
    case Kind::kList: {
      if (!initial.is_none() && !initial.is_list()) {
        return error::TypeError(absl::StrCat("a list starts from a list, not ", initial.type_name()));
      }
      Value::List items = initial.is_list() ? initial.as_list() : Value::List();
      made = ListObject::Create(budget, std::move(items));
      break;
    }
    case Kind::kDict: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError(absl::StrCat("a dict starts from a dict, not ", initial.type_name()));
      }
      Value::Dict entries = initial.is_dict() ? initial.as_dict() : Value::Dict();
      made = DictObject::Create(budget, std::move(entries));
      break;
    }
    case Kind::kNamespace: {
      if (!initial.is_none() && !initial.is_dict()) {
        return error::TypeError("a Namespace starts from a dict of attribute names");
      }
      auto ns = std::make_unique<NamespaceObject>(budget);
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
      made = ValueObject::Create(budget, r.typecode(), std::move(initial));
      break;
    default:
      return error::ValueError(absl::StrCat("cannot create objects of kind ",
                                            v1::Kind_Name(r.kind())));
  }
  if (made.ok() && holds_refs) (*made)->MarkMayHoldRefs();
  return made;
}

void FillInfo(const ObjectSummary& summary, size_t repr_limit, v1::ObjectInfo* info) {
  info->set_id(summary.id);
  info->set_kind(static_cast<v1::Kind>(summary.kind));
  info->set_name(summary.name);
  info->set_session_refs(summary.session_refs);
  info->set_container_refs(summary.container_refs);
  info->set_size(summary.object->Size());
  std::string repr = summary.object->Repr();
  if (repr.size() > repr_limit) {
    repr.resize(repr_limit);
    repr += "...";
  }
  info->set_repr(std::move(repr));
  if (summary.kind == Kind::kValue) {
    info->set_typecode(static_cast<const ValueObject&>(*summary.object).typecode());
  }
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(Row<v1::CreateRequest, v1::CreateReply>(
      kService, "Create",
      [](CallContext& c, const v1::CreateRequest& r, v1::CreateReply& out) -> absl::Status {
        const Kind kind = static_cast<Kind>(r.kind());
        absl::StatusOr<Value> initial = c.Read(r.initial());
        if (!initial.ok()) return initial.status();
        absl::Status refs = c.core().registry().CheckRefs(*initial);
        if (!refs.ok()) return refs;
        auto created = c.core().registry().Create(
            c.session(), kind, r.name(),
            [&]() { return MakeObject(c.core(), r, *std::move(initial)); });
        if (!created.ok()) return created.status();
        out.mutable_ref()->set_id(created->first);
        out.mutable_ref()->set_kind(r.kind());
        out.set_created(created->second);
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::LookupRequest, v1::LookupReply>(
      kService, "Lookup",
      [](CallContext& c, const v1::LookupRequest& r, v1::LookupReply& out) -> absl::Status {
        absl::StatusOr<ObjectRef> ref = c.core().registry().Retain(c.session(), r.id(), r.name());
        if (!ref.ok()) return ref.status();
        out.mutable_ref()->set_id(ref->id);
        out.mutable_ref()->set_kind(static_cast<v1::Kind>(ref->kind));
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::ReleaseRequest, v1::ReleaseReply>(
      kService, "Release",
      [](CallContext& c, const v1::ReleaseRequest& r, v1::ReleaseReply&) -> absl::Status {
        for (uint64_t id : r.ids()) c.core().registry().Release(c.session(), id);
        if (c.core().registry().collect_wanted()) c.core().RequestCollect();
        return absl::OkStatus();
      }));
  rows.push_back(Row<v1::DeleteRequest, v1::DeleteReply>(
      kService, "Delete",
      [](CallContext& c, const v1::DeleteRequest& r, v1::DeleteReply&) -> absl::Status {
        absl::Status deleted = c.core().registry().DeleteName(r.name());
        if (deleted.ok()) c.core().RequestCollect();
        return deleted;
      }));
  Method list = Row<v1::ListObjectsRequest, v1::ListObjectsReply>(
      kService, "ListObjects",
      [](CallContext& c, const v1::ListObjectsRequest&, v1::ListObjectsReply& out) {
        for (const ObjectSummary& summary : c.core().registry().List()) {
          FillInfo(summary, kListedReprLimit, out.add_objects());
        }
        return absl::OkStatus();
      });
  // Listing collects first, so that the count is exact; that takes the
  // collector lock exclusively.
  list.under_collector_lock = false;
  rows.push_back(std::move(list));
  Method describe = Row<v1::DescribeRequest, v1::ObjectInfo>(
      kService, "Describe",
      [](CallContext& c, const v1::DescribeRequest& r, v1::ObjectInfo& out) -> absl::Status {
        absl::StatusOr<ObjectSummary> summary = c.core().registry().Summarize(r.id(), r.name());
        if (!summary.ok()) return summary.status();
        FillInfo(*summary, std::string::npos, &out);
        return absl::OkStatus();
      });
  describe.under_collector_lock = false;
  rows.push_back(std::move(describe));
  return rows;
}

}  // namespace

const DispatchTable& ManagerTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server

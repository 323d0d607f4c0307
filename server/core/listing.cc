#include "server/core/listing.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "server/objects/array_object.h"
#include "server/objects/value_object.h"

namespace shoal::server {
namespace {

// Listings cut long reprs; DescribeObject gives the whole.
constexpr size_t kListedReprLimit = 200;

// The client name of every live session.
absl::flat_hash_map<SessionId, std::string> ClientNames(const Sessions& sessions) {
  absl::flat_hash_map<SessionId, std::string> names;
  for (const SessionInfo& session : sessions.List()) names[session.id] = session.client_name;
  return names;
}

ObjectListing ListingOf(const ObjectSummary& summary, size_t repr_limit,
                        const absl::flat_hash_map<SessionId, std::string>& names) {
  ObjectListing out;
  out.id = summary.id;
  out.kind = summary.kind;
  out.name = summary.name;
  out.session_refs = summary.session_refs;
  out.container_refs = summary.container_refs;
  out.size = summary.object->Size();
  out.repr = summary.object->Repr();
  if (out.repr.size() > repr_limit) {
    out.repr.resize(repr_limit);
    out.repr += "...";
  }
  if (summary.kind == Kind::kValue) {
    out.typecode = static_cast<const ValueObject&>(*summary.object).typecode();
  }
  if (summary.kind == Kind::kArray) {
    out.typecode = static_cast<const ArrayObject&>(*summary.object).typecode();
  }
  if (!IsSyncKind(summary.kind)) return out;
  const Holdings holdings = summary.object->Held();
  std::vector<std::pair<SessionId, int64_t>> held = holdings.held;
  std::sort(held.begin(), held.end());
  for (const auto& [session, count] : held) {
    ObjectHolder holder;
    holder.session = session;
    auto name = names.find(session);
    if (name != names.end()) holder.client = name->second;
    holder.count = count;
    out.holders.push_back(std::move(holder));
  }
  for (const auto& [session, count] : holdings.waiting) out.waiting += count;
  return out;
}

}  // namespace

ObjectPage ListObjects(Registry& registry, const Sessions& sessions, uint64_t after,
                       int64_t page_size) {
  if (page_size <= 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  // What went before the call is gone from the listing, so counts are exact.
  registry.Collect();
  // One more than the page tells whether another page follows.
  const std::vector<ObjectSummary> summaries = registry.List(after, page_size + 1);
  const absl::flat_hash_map<SessionId, std::string> names = ClientNames(sessions);
  ObjectPage page;
  const size_t listed = std::min(summaries.size(), static_cast<size_t>(page_size));
  page.objects.reserve(listed);
  for (size_t i = 0; i < listed; ++i) {
    page.objects.push_back(ListingOf(summaries[i], kListedReprLimit, names));
  }
  if (summaries.size() > listed) page.next_after = summaries[listed - 1].id;
  return page;
}

absl::StatusOr<ObjectListing> DescribeObject(Registry& registry, const Sessions& sessions,
                                             uint64_t id, const std::string& name) {
  absl::StatusOr<ObjectSummary> summary = registry.Summarize(id, name);
  if (!summary.ok()) return summary.status();
  return ListingOf(*summary, std::string::npos, ClientNames(sessions));
}

std::vector<SessionListing> ListSessions(const Registry& registry, const Sessions& sessions,
                                         absl::Time now) {
  std::vector<SessionInfo> infos = sessions.List();
  std::sort(infos.begin(), infos.end(),
            [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  std::vector<SessionListing> out;
  out.reserve(infos.size());
  // Where each listed session sits in out.
  absl::flat_hash_map<SessionId, size_t> index;
  for (const SessionInfo& info : infos) {
    SessionListing listing;
    listing.id = info.id;
    listing.client = info.client_name;
    listing.peer = info.peer;
    listing.streams = info.streams;
    if (info.deadline != absl::InfiniteFuture()) {
      listing.expires_in = std::max(info.deadline - now, absl::ZeroDuration());
    }
    for (const auto& [object, count] : registry.SessionRefs(info.id)) listing.refs += count;
    index[info.id] = out.size();
    out.push_back(std::move(listing));
  }
  // SyncObjects is ordered by id, so each session's holdings are too.
  for (const ObjectSummary& summary : registry.SyncObjects()) {
    const Holdings holdings = summary.object->Held();
    // Per session: the count held and the calls waiting.
    absl::flat_hash_map<SessionId, std::pair<int64_t, int64_t>> per_session;
    for (const auto& [session, count] : holdings.held) per_session[session].first += count;
    for (const auto& [session, count] : holdings.waiting) per_session[session].second += count;
    for (const auto& [session, counts] : per_session) {
      auto at = index.find(session);
      if (at == index.end()) continue;
      SessionHolding holding;
      holding.object_id = summary.id;
      holding.kind = summary.kind;
      holding.name = summary.name;
      holding.count = counts.first;
      holding.waiting = counts.second;
      out[at->second].holdings.push_back(std::move(holding));
    }
  }
  return out;
}

}  // namespace shoal::server

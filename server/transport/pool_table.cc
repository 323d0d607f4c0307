// PoolService: rows over PoolObject, a Pool's tasks and results.
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/objects/pool_object.h"
#include "server/transport/tables.h"
#include "shared/packed_values.h"
#include "shared/utf8.h"
#include "shared/value_codec.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/pool.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.PoolService";

// Packed values (pool.proto) are checked, not decoded: the records of a
// serialized ListValue are split apart as they are, and each one's value is
// walked through in its wire form, to refuse what the per-task form would
// refuse too (a malformed message, a str that is not UTF-8, nesting past
// kMaxValueDepth) and object references, which the server would have to
// count.
absl::Status BadPacked() { return error::ValueError(MalformedMessage("packed value")); }

absl::Status CheckValue(absl::string_view bytes, int depth, bool* is_list);

// A ListValue's items (field 1) or a DictValue's entries (field 1, each a
// key, field 1, and a value, field 2).
absl::Status CheckItems(absl::string_view bytes, int depth, bool dict) {
  if (depth > kMaxValueDepth) return error::ValueError(TooDeepMessage());
  WireReader in(bytes);
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view item;
    if (!in.Field(&number, &type, &item)) return BadPacked();
    if (number != 1 || type != 2) continue;
    if (!dict) {
      if (absl::Status s = CheckValue(item, depth, nullptr); !s.ok()) return s;
      continue;
    }
    WireReader entry(item);
    while (!entry.done()) {
      absl::string_view part;
      if (!entry.Field(&number, &type, &part)) return BadPacked();
      if ((number != 1 && number != 2) || type != 2) continue;
      if (absl::Status s = CheckValue(part, depth, nullptr); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Whether bytes are one varint field numbered under 16 (None, bool, int):
// its one-byte tag, then a varint that ends with them.
bool OneSmallVarintField(absl::string_view bytes) {
  if (bytes.size() < 2 || bytes.size() > 11) return false;
  const uint8_t tag = static_cast<uint8_t>(bytes[0]);
  if ((tag & 0x87) != kWireVarint || (tag >> 3) == 0) return false;
  for (size_t i = 1; i + 1 < bytes.size(); ++i) {
    if ((static_cast<uint8_t>(bytes[i]) & 0x80) == 0) return false;
  }
  return (static_cast<uint8_t>(bytes.back()) & 0x80) == 0;
}

// One Value; *is_list tells whether it is a list.
absl::Status CheckValue(absl::string_view bytes, int depth, bool* is_list) {
  // Most values are plain numbers: nothing in them to check.
  if (OneSmallVarintField(bytes)) {
    if (is_list != nullptr) *is_list = false;
    return absl::OkStatus();
  }
  WireReader in(bytes);
  bool list = false;
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view part;
    if (!in.Field(&number, &type, &part)) return BadPacked();
    list = false;
    if (type != 2) continue;
    switch (number) {
      case 5:
        if (!IsValidUtf8(std::string_view(part.data(), part.size()))) return BadPacked();
        break;
      case 7:
      case 8:
        if (absl::Status s = CheckItems(part, depth + 1, number == 8); !s.ok()) return s;
        list = number == 7;
        break;
      case 9:
        return error::ValueError("a packed value holds no object references");
      default:
        break;
    }
  }
  if (is_list != nullptr) *is_list = list;
  return absl::OkStatus();
}

// The records of a packed ListValue (each its tag, its length and its
// value), checked, as where each ends in bytes; with lists, each value must
// be a list (a task's arguments).
absl::Status SplitRecords(absl::string_view bytes, bool lists, std::vector<uint32_t>* ends) {
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return error::ValueError("packed values are too long");
  }
  // Small records mostly: a guess that saves most of the regrowth, capped
  // so that a large message of large records reserves little.
  ends->reserve(std::min<size_t>(bytes.size() / 8, 1 << 16));
  WireReader in(bytes);
  while (!in.done()) {
    uint32_t number = 0, type = 0;
    absl::string_view value;
    if (!in.Field(&number, &type, &value) || number != 1 || type != 2) return BadPacked();
    bool is_list = false;
    if (absl::Status s = CheckValue(value, lists ? 0 : 1, &is_list); !s.ok()) return s;
    if (lists && !is_list) return error::ValueError("packed arguments are lists");
    ends->push_back(static_cast<uint32_t>(in.at() - bytes.data()));
  }
  return absl::OkStatus();
}


// Decodes reported results; a bad value fails the whole report.
absl::StatusOr<std::vector<PoolObject::Result>> ResultsOf(
    const CallContext& c, PoolObject& pool,
    const google::protobuf::RepeatedPtrField<v1::TaskResult>& wire) {
  std::vector<PoolObject::Result> out;
  out.reserve(static_cast<size_t>(wire.size()));
  for (const v1::TaskResult& w : wire) {
    PoolObject::Result r;
    r.job = w.job();
    r.index = w.index();
    r.chunk = w.chunk();
    if (w.has_error()) {
      r.ok = false;
      r.error_kind = w.error().kind().empty() ? "RuntimeError" : w.error().kind();
      r.error_message = w.error().message();
    } else {
      absl::StatusOr<Value> value = c.Store(w.value(), pool);
      if (!value.ok()) return value.status();
      r.value = *std::move(value);
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The packed results of a report, checked, into out (values pointing into
// wire).
absl::Status PackedResultsOf(const v1::PackedResults& wire, PoolObject::PackedReport& out) {
  if (wire.indexes_size() == 0 && wire.values().empty()) return absl::OkStatus();
  if (absl::Status s = SplitRecords(wire.values(), false, &out.ends); !s.ok()) return s;
  const size_t n = out.ends.size();
  if (wire.indexes_size() > 0 && n != static_cast<size_t>(wire.indexes_size())) {
    return error::ValueError("packed results need one value per index");
  }
  if (wire.indexes_size() == 0 && n > 0 &&
      wire.first_index() > std::numeric_limits<int64_t>::max() - static_cast<int64_t>(n)) {
    return error::ValueError("packed result indexes overflow");
  }
  out.job = wire.job();
  out.chunk = wire.chunk();
  out.first_index = wire.first_index();
  out.indexes.assign(wire.indexes().begin(), wire.indexes().end());
  out.values = wire.values();
  return absl::OkStatus();
}

// Reports r's results, per task and packed.
template <typename Req>
absl::Status ReportOf(const CallContext& c, PoolObject& pool, const Req& r) {
  if (r.results_size() == 0 && !r.has_packed_results()) return absl::OkStatus();
  absl::StatusOr<std::vector<PoolObject::Result>> results = ResultsOf(c, pool, r.results());
  if (!results.ok()) return results.status();
  PoolObject::PackedReport packed;
  if (r.has_packed_results()) {
    if (absl::Status s = PackedResultsOf(r.packed_results(), packed); !s.ok()) return s;
  }
  pool.Report(*std::move(results), &packed);
  return absl::OkStatus();
}

// A pull's outcome (pool_object.h) into out: a packed chunk stays packed
// when packed, else each task apart.
void FillPullAs(const CallContext& c, const Outcome& outcome, v1::PullReply& out, bool packed) {
  if (outcome.value.is_none()) {
    out.set_closed(true);
    return;
  }
  const Value::List& f = outcome.value.as_list();
  if (f.empty()) return;
  const uint64_t job = static_cast<uint64_t>(f[1].as_int());
  const uint64_t chunk = static_cast<uint64_t>(f[2].as_int());
  const int32_t attempt = static_cast<int32_t>(f[3].as_int());
  if (f[0].as_bool()) {
    // The tasks' indexes: listed, or consecutive from the first.
    const bool listed = f[5].is_list();
    if (packed) {
      v1::PackedChunk* p = out.mutable_packed();
      p->set_job(job);
      p->set_chunk(chunk);
      p->set_attempt(attempt);
      p->set_function(f[4].as_str());
      if (listed) {
        const Value::List& indexes = f[5].as_list();
        p->mutable_indexes()->Reserve(static_cast<int>(indexes.size()));
        for (const Value& i : indexes) p->add_indexes(i.as_int());
      } else {
        p->set_first_index(f[5].as_int());
      }
      p->set_args(f[6].as_bytes());
      return;
    }
    v1::ListValue args;
    if (!ParseCarryingValues(f[6].as_bytes(), &args)) return;
    const size_t n = listed ? std::min(f[5].as_list().size(), static_cast<size_t>(args.items_size()))
                            : static_cast<size_t>(args.items_size());
    out.mutable_tasks()->Reserve(static_cast<int>(n));
    for (size_t i = 0; i < n; ++i) {
      v1::PoolTask* task = out.add_tasks();
      task->set_job(job);
      task->set_index(listed ? f[5].as_list()[i].as_int() : f[5].as_int() + static_cast<int64_t>(i));
      task->set_function(f[4].as_str());
      task->mutable_args()->Swap(args.mutable_items(static_cast<int>(i))->mutable_list()->mutable_items());
      task->set_attempt(attempt);
      task->set_chunk(chunk);
    }
    return;
  }
  const Value::List& tasks = f[4].as_list();
  out.mutable_tasks()->Reserve(static_cast<int>(tasks.size()));
  for (const Value& t : tasks) {
    const Value::List& fields = t.as_list();
    v1::PoolTask* task = out.add_tasks();
    task->set_job(job);
    task->set_index(fields[0].as_int());
    task->set_function(fields[1].as_str());
    const Value::List& args = fields[2].as_list();
    task->mutable_args()->Reserve(static_cast<int>(args.size()));
    for (const Value& arg : args) c.Give(arg, task->add_args());
    task->set_attempt(attempt);
    task->set_chunk(chunk);
  }
}

void FillPull(const CallContext& c, const Outcome& outcome, v1::PullReply& out) {
  FillPullAs(c, outcome, out, false);
}

void FillPullPacked(const CallContext& c, const Outcome& outcome, v1::PullReply& out) {
  FillPullAs(c, outcome, out, true);
}

// A fetch's outcome (pool_object.h) into out: the values that came packed
// stay packed when packed, else each result apart.
void FillResultsAs(const CallContext& c, const Outcome& outcome, v1::ResultsReply& out,
                   bool packed) {
  const Value::List& f = outcome.value.as_list();
  const uint64_t job = static_cast<uint64_t>(f[0].as_int());
  const std::string& records = f[1].as_bytes();
  const Value::List& runs = f[2].as_list();
  const Value::List& others = f[3].as_list();
  // One run of consecutive indexes goes as its first alone.
  const bool one_run = packed && runs.size() == 2;
  std::vector<int64_t> indexes;
  if (!one_run) {
    for (size_t r = 0; r + 1 < runs.size(); r += 2) {
      for (int64_t i = 0; i < runs[r + 1].as_int(); ++i) indexes.push_back(runs[r].as_int() + i);
    }
  }
  v1::ListValue values;
  if (!packed && !indexes.empty() && !ParseCarryingValues(records, &values)) values.Clear();
  out.mutable_results()->Reserve(static_cast<int>(others.size() + (packed ? 0 : indexes.size())));
  // Both lists ascend by index (as taken): unpacked, they merge in that order.
  size_t next = 0;
  auto unpack_before = [&](int64_t bound) {
    while (!packed && next < indexes.size() && next < static_cast<size_t>(values.items_size()) &&
           indexes[next] < bound) {
      v1::TaskResult* result = out.add_results();
      result->set_job(job);
      result->set_index(indexes[next]);
      result->mutable_value()->Swap(values.mutable_items(static_cast<int>(next)));
      ++next;
    }
  };
  for (const Value& r : others) {
    const Value::List& fields = r.as_list();
    unpack_before(fields[1].as_int());
    v1::TaskResult* result = out.add_results();
    result->set_job(job);
    result->set_index(fields[1].as_int());
    if (fields[2].as_bool()) {
      c.Give(fields[3], result->mutable_value());
    } else {
      result->mutable_error()->set_kind(fields[3].as_str());
      result->mutable_error()->set_message(fields[4].as_str());
    }
  }
  unpack_before(std::numeric_limits<int64_t>::max());
  if (!packed || runs.empty()) return;
  v1::PackedResults* p = out.mutable_packed();
  p->set_job(job);
  if (one_run) {
    p->set_first_index(runs[0].as_int());
  } else {
    p->mutable_indexes()->Add(indexes.begin(), indexes.end());
  }
  p->set_values(records);
}

void FillResults(const CallContext& c, const Outcome& outcome, v1::ResultsReply& out) {
  FillResultsAs(c, outcome, out, false);
}

void FillResultsPacked(const CallContext& c, const Outcome& outcome, v1::ResultsReply& out) {
  FillResultsAs(c, outcome, out, true);
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(ObjectRow<PoolObject, v1::SubmitRequest, v1::SubmitReply>(
      kService, "Submit", Kind::kPool,
      [](CallContext& c, PoolObject& pool, const v1::SubmitRequest& r, v1::SubmitReply& out) {
        std::vector<PoolObject::Task> tasks;
        PoolObject::PackedSubmit packed;
        if (r.has_packed()) {
          if (r.function().empty()) return error::ValueError("a task names its function");
          absl::Status split = SplitRecords(r.packed().args(), true, &packed.ends);
          if (!split.ok()) return split;
          packed.function = r.function();
          packed.first_index = r.packed().first_index();
          packed.records = r.packed().args();
        }
        tasks.reserve(static_cast<size_t>(r.tasks_size()));
        for (const v1::PoolTask& w : r.tasks()) {
          const std::string& function = w.function().empty() ? r.function() : w.function();
          if (function.empty()) return error::ValueError("a task names its function");
          PoolObject::Task task;
          task.index = w.index();
          task.function = function;
          absl::StatusOr<Value::List> args = StoreAll(c, w.args(), pool);
          if (!args.ok()) return args.status();
          task.args = *std::move(args);
          tasks.push_back(std::move(task));
        }
        absl::StatusOr<uint64_t> job =
            pool.Submit(r.job(), r.chunksize(), std::move(tasks), &packed);
        if (!job.ok()) return job.status();
        out.set_job(*job);
        return absl::OkStatus();
      }));
  rows.push_back(WaitingRow<PoolObject, v1::PullRequest, v1::PullReply>(
      kService, "Pull", Kind::kPool,
      [](CallContext& c, std::shared_ptr<PoolObject> pool, const v1::PullRequest& r,
         Responder<v1::PullReply> respond) {
        if (absl::Status s = ReportOf(c, *pool, r); !s.ok()) return respond(std::move(s));
        const int64_t max = r.max();
        ParkCall<v1::PullReply, PoolObject>(
            c, std::move(pool), r.has_timeout(), r.timeout(), std::move(respond),
            [max](PoolObject& p, WaitRequest w) { return p.Pull(std::move(w), max); },
            r.packed() ? FillPullPacked : FillPull);
      }));
  rows.push_back(ObjectRow<PoolObject, v1::ReportRequest, v1::EmptyReply>(
      kService, "Report", Kind::kPool,
      [](CallContext& c, PoolObject& pool, const v1::ReportRequest& r, v1::EmptyReply&) {
        return ReportOf(c, pool, r);
      }));
  rows.push_back(WaitingRow<PoolObject, v1::ResultsRequest, v1::ResultsReply>(
      kService, "Results", Kind::kPool,
      [](CallContext& c, std::shared_ptr<PoolObject> pool, const v1::ResultsRequest& r,
         Responder<v1::ResultsReply> respond) {
        const uint64_t job = r.job();
        const int64_t start = r.start();
        const int64_t max = r.max();
        const bool unordered = r.unordered();
        ParkCall<v1::ResultsReply, PoolObject>(
            c, std::move(pool), r.has_timeout(), r.timeout(), std::move(respond),
            [&](PoolObject& p, WaitRequest w) {
              return p.Results(std::move(w), job, start, max, unordered);
            },
            r.packed() ? FillResultsPacked : FillResults);
      }));
  rows.push_back(ObjectRow<PoolObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Close", Kind::kPool,
      [](CallContext&, PoolObject& pool, const v1::ObjectRequest&, v1::EmptyReply&) {
        pool.Close();
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<PoolObject, v1::ObjectRequest, v1::EmptyReply>(
      kService, "Terminate", Kind::kPool,
      [](CallContext&, PoolObject& pool, const v1::ObjectRequest&, v1::EmptyReply&) {
        pool.Terminate();
        return absl::OkStatus();
      }));
  rows.push_back(ObjectRow<PoolObject, v1::ObjectRequest, v1::PoolStatsReply>(
      kService, "Stats", Kind::kPool,
      [](CallContext&, PoolObject& pool, const v1::ObjectRequest&, v1::PoolStatsReply& out) {
        const PoolObject::Stats s = pool.GetStats();
        out.set_pending(s.pending);
        out.set_leased(s.leased);
        out.set_done(s.done);
        out.set_closed(s.closed);
        out.set_max_retries(s.max_retries);
        out.set_workers(s.workers);
        out.set_pending_chunks(s.pending_chunks);
        out.set_leased_chunks(s.leased_chunks);
        return absl::OkStatus();
      }));
  return rows;
}

}  // namespace

const DispatchTable& PoolTable() {
  static const DispatchTable* table = new DispatchTable(std::string(kService), Rows());
  return *table;
}

}  // namespace shoal::server

// PoolService: rows over PoolObject, a Pool's tasks and results.
#include <utility>
#include <vector>

#include "server/objects/pool_object.h"
#include "server/transport/tables.h"
#include "shoal/v1/object.pb.h"
#include "shoal/v1/pool.pb.h"

namespace shoal::server {
namespace {

constexpr absl::string_view kService = "shoal.v1.PoolService";

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

// [job, index, function, args, attempt, chunk], as PoolObject hands tasks out.
void FillPull(const CallContext& c, const Outcome& outcome, v1::PullReply& out) {
  if (outcome.value.is_none()) {
    out.set_closed(true);
    return;
  }
  const Value::List& tasks = outcome.value.as_list();
  out.mutable_tasks()->Reserve(static_cast<int>(tasks.size()));
  for (const Value& t : tasks) {
    const Value::List& f = t.as_list();
    v1::PoolTask* task = out.add_tasks();
    task->set_job(static_cast<uint64_t>(f[0].as_int()));
    task->set_index(f[1].as_int());
    task->set_function(f[2].as_str());
    const Value::List& args = f[3].as_list();
    task->mutable_args()->Reserve(static_cast<int>(args.size()));
    for (const Value& arg : args) c.Give(arg, task->add_args());
    task->set_attempt(static_cast<int32_t>(f[4].as_int()));
    task->set_chunk(static_cast<uint64_t>(f[5].as_int()));
  }
}

// [job, index, true, value] or [job, index, false, kind, message].
void FillResults(const CallContext& c, const Outcome& outcome, v1::ResultsReply& out) {
  const Value::List& results = outcome.value.as_list();
  out.mutable_results()->Reserve(static_cast<int>(results.size()));
  for (const Value& r : results) {
    const Value::List& f = r.as_list();
    v1::TaskResult* result = out.add_results();
    result->set_job(static_cast<uint64_t>(f[0].as_int()));
    result->set_index(f[1].as_int());
    if (f[2].as_bool()) {
      c.Give(f[3], result->mutable_value());
    } else {
      result->mutable_error()->set_kind(f[3].as_str());
      result->mutable_error()->set_message(f[4].as_str());
    }
  }
}

std::vector<Method> Rows() {
  std::vector<Method> rows;
  rows.push_back(ObjectRow<PoolObject, v1::SubmitRequest, v1::SubmitReply>(
      kService, "Submit", Kind::kPool,
      [](CallContext& c, PoolObject& pool, const v1::SubmitRequest& r, v1::SubmitReply& out) {
        std::vector<PoolObject::Task> tasks;
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
        absl::StatusOr<uint64_t> job = pool.Submit(r.job(), r.chunksize(), std::move(tasks));
        if (!job.ok()) return job.status();
        out.set_job(*job);
        return absl::OkStatus();
      }));
  rows.push_back(WaitingRow<PoolObject, v1::PullRequest, v1::PullReply>(
      kService, "Pull", Kind::kPool,
      [](CallContext& c, std::shared_ptr<PoolObject> pool, const v1::PullRequest& r,
         Responder<v1::PullReply> respond) {
        absl::StatusOr<std::vector<PoolObject::Result>> results =
            ResultsOf(c, *pool, r.results());
        if (!results.ok()) return respond(results.status());
        if (!results->empty()) pool->Report(*std::move(results));
        const int64_t max = r.max();
        ParkCall<v1::PullReply, PoolObject>(
            c, std::move(pool), r.has_timeout(), r.timeout(), std::move(respond),
            [max](PoolObject& p, WaitRequest w) { return p.Pull(std::move(w), max); }, FillPull);
      }));
  rows.push_back(ObjectRow<PoolObject, v1::ReportRequest, v1::EmptyReply>(
      kService, "Report", Kind::kPool,
      [](CallContext& c, PoolObject& pool, const v1::ReportRequest& r, v1::EmptyReply&) {
        absl::StatusOr<std::vector<PoolObject::Result>> results = ResultsOf(c, pool, r.results());
        if (!results.ok()) return results.status();
        pool.Report(*std::move(results));
        return absl::OkStatus();
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
            FillResults);
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

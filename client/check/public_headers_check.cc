// Compile-only check of the public client headers; see client/CMakeLists.txt.
// Built without gRPC's, protobuf's or Abseil's targets; since those libraries
// may sit in the system include path, their include guards are checked too.
#include <shoal/shoal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#if defined(GRPC_SUPPORT_PORT_PLATFORM_H) || defined(GRPC_IMPL_CODEGEN_PORT_PLATFORM_H) || \
    defined(GRPCPP_GRPCPP_H)
#error "a public shoal header includes gRPC"
#endif
#if defined(GOOGLE_PROTOBUF_VERSION)
#error "a public shoal header includes protobuf"
#endif
#if defined(ABSL_BASE_CONFIG_H_)
#error "a public shoal header includes Abseil"
#endif

namespace {

// The usage the design promises; compiled, never run.
[[maybe_unused]] void DocumentedUsage() {
  shoal::ConnectOptions options;
  options.client_name = "header check";
  options.timeout = std::chrono::seconds(5);
  shoal::Manager m =
      shoal::Manager::connect("127.0.0.1:50051", shoal::AuthKey::from_file("shoal.key"), options);
  shoal::ListProxy jobs = m.list();
  shoal::DictProxy results = m.dict("results");
  jobs.append(1);
  jobs.extend({2, "three", 4.0});
  int64_t first = jobs[0].as_int();
  results.set("k", 42);
  shoal::Value k = results.get("k", /*default_value=*/0);
  results.set("jobs", jobs);  // a live reference
  shoal::ListProxy again(results["jobs"]);
  jobs += {5, 6};
  jobs *= 2;
  shoal::Value::List plain = jobs + shoal::Value::List{5};
  plain = jobs * 2;
  plain = 2 * jobs;
  plain = jobs.reversed();
  shoal::Value::List middle = jobs.slice(1, std::nullopt);
  jobs.set_slice(0, 2, {7, 8});
  jobs.del_slice(std::nullopt, std::nullopt, 2);
  results.update({{"a", 1}, {"b", 2}});
  std::pair<shoal::Value, shoal::Value> last = results.popitem();
  shoal::DictProxy seeded = m.dict({{"x", 1}}, "seeded");
  shoal::NamespaceProxy ns = m.Namespace();
  ns.set("a", 1);
  std::string shown = ns.str();
  shoal::ValueProxy counter = m.Value("i", 0);
  shoal::Value now = counter.add(1);
  shoal::Value seen;
  bool swapped = counter.compare_and_swap(1, 2, &seen);
  shoal::ArrayProxy samples = m.Array("i", {1, 2, 3});
  shoal::ArrayProxy zeros = m.Array("d", 10, "zeros");
  samples.set(-1, samples[0].as_int() + 1);
  samples.set_slice(0, 2, {4, 5});
  shoal::Value::List items = samples.slice(std::nullopt, std::nullopt);
  items = zeros.tolist();
  shown += samples.typecode() + std::to_string(samples.len());
  shoal::ArrayProxy again_array = m.attach<shoal::ArrayProxy>(samples.token());
  std::string token = jobs.token();
  shown += m.incarnation();
  shoal::ListProxy attached = m.attach<shoal::ListProxy>(token);
  size_t live = m.object_count();
  for (const shoal::ObjectInfo& info : m.objects()) shown += info.repr;
  // Pipelined calls: futures per call, and a batch that goes out as one.
  std::vector<shoal::Future<void>> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(jobs.async().append(i));
  for (shoal::Future<void>& f : sent) f.get();
  shoal::Batch batch(m);
  shoal::Future<shoal::Value> before = counter.async(batch).get();
  counter.async(batch).add(1);
  results.async(batch).update({{"c", 3}});
  batch.send();
  shown += before.get().repr();
  // A Pipe: two ends, handed to another process by token.
  auto [parent_conn, child_conn] = m.Pipe();
  child_conn.send(shoal::Value::list({42, nullptr, "hello"}));
  shoal::Value message = parent_conn.recv();
  bool waiting = parent_conn.poll() || parent_conn.poll(std::chrono::milliseconds(10)) ||
                 parent_conn.poll(std::nullopt);
  shoal::ConnectionProxy attached_end = m.attach<shoal::ConnectionProxy>(child_conn.token());
  std::pair<shoal::ConnectionProxy, shoal::ConnectionProxy> one_way =
      m.Pipe(false, "one-way", shoal::PipeOptions{1 << 20});
  attached_end.close();
  try {
    parent_conn.recv();
  } catch (const shoal::EOFError&) {
    waiting = !parent_conn.closed() && one_way.first.readable() && one_way.second.writable();
  }
  m.delete_named("results");
  std::string id = m.session_id();
  try {
    results["missing"];
  } catch (const shoal::KeyError&) {
  } catch (const shoal::Error& e) {
    shown += e.kind();
  }
  m.close();
  (void)first, (void)k, (void)again, (void)middle, (void)last, (void)seeded, (void)now;
  (void)swapped, (void)attached, (void)live, (void)id, (void)plain, (void)again_array;
  (void)message, (void)waiting;
}

// Child processes: a function run in a forked child, and a program.
[[maybe_unused]] void ProcessUsage(shoal::ListProxy jobs) {
  std::vector<shoal::Process> workers;
  workers.emplace_back([jobs]() mutable { jobs.append(1); });
  workers.emplace_back(std::vector<std::string>{"/bin/sh", "-c", "exit 7"}, "shell");
  for (shoal::Process& p : workers) p.start();
  if (!workers[0].join(std::chrono::seconds(5))) workers[0].terminate();
  workers[1].join();
  std::optional<int> code = workers[1].exitcode();
  std::optional<pid_t> pid = workers[0].pid();
  bool alive = workers[0].is_alive();
  (void)code, (void)pid, (void)alive;
}

}  // namespace

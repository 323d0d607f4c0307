// redis_bench: the Redis side of the benchmark suite, with hiredis, Redis's
// own C client (bench/suite.py runs it, one process per simulated worker).
// Each workload is the nearest Redis command to the shoal operation:
//
//   list_append           RPUSH
//   dict_set / dict_get   HSET / HGET on one hash
//   value_add             INCR
//   lock_acquire_release  SET key token NX (retried at once until it succeeds), then DEL
//   queue_put_get         LPUSH, then RPOP
//   event_round_trip      LPUSH + BRPOP ping-pong with a partner connection
//   barrier_wait          an emulation: INCR of the group's arrival count, and
//                         BLPOP on the list of the count's generation, which the
//                         last party of the generation fills with RPUSH
//
// Modes:
//   redis_bench client ADDRESS PASSFILE INDEX CLIENTS   (see bench_client.h)
//   redis_bench wakeup ADDRESS PASSFILE TRIALS
// ADDRESS is host:port or unix:PATH.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_client.h"

namespace {

using namespace std::chrono_literals;

struct Target {
  std::string address;
  std::string password;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One connection to the server.
class Redis {
 public:
  explicit Redis(const Target& target) {
    timeval tv{60, 0};
    if (target.address.rfind("unix:", 0) == 0) {
      c_ = redisConnectUnixWithTimeout(target.address.substr(5).c_str(), tv);
    } else {
      const size_t colon = target.address.rfind(':');
      c_ = redisConnectWithTimeout(target.address.substr(0, colon).c_str(),
                                   std::atoi(target.address.c_str() + colon + 1), tv);
    }
    if (c_ == nullptr || c_->err) {
      throw std::runtime_error("cannot connect to redis at " + target.address + ": " +
                               (c_ != nullptr ? c_->errstr : "out of memory"));
    }
    if (!target.password.empty()) Command({"AUTH", target.password});
  }
  ~Redis() { redisFree(c_); }
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends one command and waits for its reply; throws on a connection error
  // or an error reply.
  Reply Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data())));
    if (reply == nullptr) throw std::runtime_error(std::string("redis: ") + c_->errstr);
    if (reply->type == REDIS_REPLY_ERROR) {
      throw std::runtime_error("redis " + args[0] + ": " + std::string(reply->str, reply->len));
    }
    return reply;
  }

  // Pipelining: queues commands without waiting, then reads one reply per
  // queued command (the first write happens at the first read).
  void Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      throw std::runtime_error(std::string("redis: ") + c_->errstr);
    }
  }
  void ReadReplies(int count) {
    for (int k = 0; k < count; ++k) {
      void* raw = nullptr;
      if (redisGetReply(c_, &raw) != REDIS_OK) throw std::runtime_error(std::string("redis: ") + c_->errstr);
      Reply reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR) throw std::runtime_error("redis: " + std::string(reply->str, reply->len));
    }
  }

 private:
  redisContext* c_ = nullptr;
};

// The string in a reply; empty for nil.
std::string Str(const Reply& r) {
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) return std::string(r->str, r->len);
  return "";
}

// The value of a BRPOP/BLPOP reply ([key, value]); empty on timeout.
std::string Popped(const Reply& r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return "";
  return std::string(r->element[1]->str, r->element[1]->len);
}

constexpr const char* kCallTimeoutSeconds = "30";

class SimpleCommand : public bench::Workload {
 public:
  // args with "$i" replaced by the operation's number.
  SimpleCommand(Redis& r, std::vector<std::string> args) : r_(r), args_(std::move(args)) {
    for (size_t i = 0; i < args_.size(); ++i) {
      if (args_[i] == "$i") counter_ = static_cast<int>(i);
    }
  }
  bool Op(int64_t i) override {
    if (counter_ >= 0) args_[counter_] = std::to_string(i);
    r_.Command(args_);
    return true;
  }

 private:
  Redis& r_;
  std::vector<std::string> args_;
  int counter_ = -1;
};

class HashCommand : public bench::Workload {
 public:
  HashCommand(Redis& r, const std::string& key, bool set, bool fill)
      : r_(r), key_(key), set_(set), keys_(bench::DictKeys()) {
    if (fill) {
      for (size_t i = 0; i < keys_.size(); ++i) r_.Command({"HSET", key_, keys_[i], std::to_string(i)});
    }
  }
  bool Op(int64_t i) override {
    const std::string& field = keys_[i % keys_.size()];
    if (set_) {
      r_.Command({"HSET", key_, field, std::to_string(i)});
    } else {
      r_.Command({"HGET", key_, field});
    }
    return true;
  }

 private:
  Redis& r_;
  const std::string key_;
  const bool set_;
  const std::vector<std::string> keys_;
};

class LockCycle : public bench::Workload {
 public:
  LockCycle(Redis& r, const std::string& key, int index)
      : r_(r), key_(key), token_("client" + std::to_string(index)) {}
  bool Op(int64_t) override {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (Str(r_.Command({"SET", key_, token_, "NX"})) != "OK") {
      if (std::chrono::steady_clock::now() > give_up) throw std::runtime_error("lock: SET NX kept failing");
    }
    r_.Command({"DEL", key_});
    return true;
  }

 private:
  Redis& r_;
  const std::string key_, token_;
};

class QueueCycle : public bench::Workload {
 public:
  QueueCycle(Redis& r, const std::string& key) : r_(r), key_(key) {}
  bool Op(int64_t i) override {
    r_.Command({"LPUSH", key_, std::to_string(i)});
    // Every client pops only after it pushed, so the list holds at least one
    // item for each client between the two: RPOP finds one.
    for (int tries = 0; r_.Command({"RPOP", key_})->type == REDIS_REPLY_NIL; ++tries) {
      if (tries > 1000000) throw std::runtime_error("queue: RPOP kept finding nothing");
    }
    return true;
  }

 private:
  Redis& r_;
  const std::string key_;
};

// The nearest Redis has to the Event round trip: a partner connection parked
// in BRPOP on "ping"; one operation is LPUSH ping, then BRPOP pong, which the
// partner answers with LPUSH pong once its BRPOP returned. Two calls on each
// side (shoal's and Python's Event protocol needs three).
class EventRoundTrip : public bench::Workload {
 public:
  EventRoundTrip(const Target& target, Redis& r, const std::string& prefix)
      : r_(r), ping_(prefix + ".ping"), pong_(prefix + ".pong") {
    auto own = std::make_shared<Redis>(target);
    partner_ = std::thread([own, ping = ping_, pong = pong_] {
      try {
        for (;;) {
          const std::string item = Popped(own->Command({"BRPOP", ping, kCallTimeoutSeconds}));
          if (item.empty()) throw std::runtime_error("partner: BRPOP timed out");
          if (item == "stop") return;
          own->Command({"LPUSH", pong, item});
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "redis_bench: event partner: %s\n", e.what());
        std::exit(1);
      }
    });
  }
  ~EventRoundTrip() override { Finish(); }
  bool Op(int64_t i) override {
    r_.Command({"LPUSH", ping_, std::to_string(i)});
    if (Popped(r_.Command({"BRPOP", pong_, kCallTimeoutSeconds})).empty()) {
      throw std::runtime_error("BRPOP on pong timed out");
    }
    return true;
  }
  void Finish() override {
    if (!partner_.joinable()) return;
    r_.Command({"LPUSH", ping_, "stop"});
    partner_.join();
  }

 private:
  Redis& r_;
  const std::string ping_, pong_;
  std::thread partner_;
};

// A barrier of `parties` built from INCR and lists, as Redis has none: the
// arrival count n = INCR count puts the caller in generation (n-1)/parties;
// the last party of a generation (n % parties == 0) pushes parties-1 tokens
// on the generation's own list, and the others take one each with BLPOP.
// A list per generation keeps a fast party of the next generation from
// taking a token of this one. Two calls per wait for every party. The first
// client of a group to stop pushes "stop" tokens on the next generation's
// list, which ends the others' waits.
class BarrierWait : public bench::Workload {
 public:
  BarrierWait(Redis& r, const std::string& prefix, int index, int clients)
      : r_(r), parties_(std::min(8, clients)),
        key_(prefix + ".barrier" + std::to_string(index / std::min(8, clients))) {}
  bool Op(int64_t) override {
    const Reply n = r_.Command({"INCR", key_ + ".count"});
    generation_ = (n->integer - 1) / parties_;
    const std::string list = key_ + ".gen" + std::to_string(generation_);
    if (n->integer % parties_ == 0) {
      if (parties_ > 1) {
        std::vector<std::string> push = {"RPUSH", list};
        push.insert(push.end(), parties_ - 1, "go");
        r_.Command(push);
      }
      return true;
    }
    const std::string token = Popped(r_.Command({"BLPOP", list, kCallTimeoutSeconds}));
    if (token.empty()) throw std::runtime_error("barrier: BLPOP timed out");
    if (token == "stop") {
      stopped_ = true;
      return false;
    }
    return true;
  }
  void Finish() override {
    if (stopped_ || generation_ < 0 || parties_ == 1) return;
    std::vector<std::string> push = {"RPUSH", key_ + ".gen" + std::to_string(generation_ + 1)};
    push.insert(push.end(), parties_, "stop");
    r_.Command(push);
  }

 private:
  Redis& r_;
  const int parties_;
  const std::string key_;
  int64_t generation_ = -1;
  bool stopped_ = false;
};

// ---- pipelined and bulk work, for one client (as in shoal_bench) ----

constexpr int kWindow = 1000;
constexpr int kBulk = 1000;

// kWindow commands pipelined: RPUSH (list) or HSET (dict), then the replies.
class Pipelined : public bench::Workload {
 public:
  Pipelined(Redis& r, std::string key, bool hash) : r_(r), key_(std::move(key)), hash_(hash) {}
  bool Op(int64_t i) override {
    for (int k = 0; k < kWindow; ++k) {
      const int64_t n = i * kWindow + k;
      if (hash_) {
        r_.Append({"HSET", key_, "key" + std::to_string(n % 1000), std::to_string(n)});
      } else {
        r_.Append({"RPUSH", key_, std::to_string(n)});
      }
    }
    r_.ReadReplies(kWindow);
    return true;
  }
  int64_t OpsPerOp() const override { return kWindow; }

 private:
  Redis& r_;
  const std::string key_;
  const bool hash_;
};

// One RPUSH of kBulk values (the list deleted every 100 operations), or one
// HSET of kBulk fields from 10 sets of keys in turn.
class Bulk : public bench::Workload {
 public:
  Bulk(Redis& r, std::string key, bool hash) : r_(r), key_(std::move(key)), hash_(hash) {
    for (int set = 0; set < (hash ? 10 : 1); ++set) {
      std::vector<std::string> args{hash ? "HSET" : "RPUSH", key_};
      for (int k = 0; k < kBulk; ++k) {
        if (hash) args.push_back("key" + std::to_string(set * kBulk + k));
        args.push_back(std::to_string(k));
      }
      commands_.push_back(std::move(args));
    }
  }
  bool Op(int64_t i) override {
    if (!hash_ && i % 100 == 99) r_.Command({"DEL", key_});
    r_.Command(commands_[i % commands_.size()]);
    return true;
  }
  int64_t OpsPerOp() const override { return kBulk; }

 private:
  Redis& r_;
  const std::string key_;
  const bool hash_;
  std::vector<std::vector<std::string>> commands_;
};

int RunClient(const Target& target, int index, int clients) {
  Redis r(target);
  for (int i = 0; i < 100; ++i) r.Command({"PING"});
  bench::Emit("connected");
  return bench::ServeDriver(
      [&](const std::string& workload, const std::string& prefix) -> std::unique_ptr<bench::Workload> {
        if (workload == "list_append") return std::make_unique<SimpleCommand>(r, std::vector<std::string>{"RPUSH", prefix + ".list", "$i"});
        if (workload == "dict_set") return std::make_unique<HashCommand>(r, prefix + ".dict", true, false);
        if (workload == "dict_get") return std::make_unique<HashCommand>(r, prefix + ".dict", false, index == 0);
        if (workload == "value_add") return std::make_unique<SimpleCommand>(r, std::vector<std::string>{"INCR", prefix + ".value"});
        if (workload == "lock_acquire_release") return std::make_unique<LockCycle>(r, prefix + ".lock", index);
        if (workload == "queue_put_get") return std::make_unique<QueueCycle>(r, prefix + ".queue");
        if (workload == "event_round_trip") {
          return std::make_unique<EventRoundTrip>(target, r, prefix + ".c" + std::to_string(index));
        }
        if (workload == "barrier_wait") return std::make_unique<BarrierWait>(r, prefix, index, clients);
        if (workload == "pipelined_append") return std::make_unique<Pipelined>(r, prefix + ".list", false);
        if (workload == "batched_dict_set") return std::make_unique<Pipelined>(r, prefix + ".dict", true);
        if (workload == "bulk_extend") return std::make_unique<Bulk>(r, prefix + ".list", false);
        if (workload == "bulk_update") return std::make_unique<Bulk>(r, prefix + ".dict", true);
        throw std::runtime_error("unknown workload: " + workload);
      });
}

// Wake-up latency of a parked BRPOP: a thread with its own connection waits
// in BRPOP; the main thread waits until the server lists the connection as
// blocked (CLIENT LIST's flags=b), notes the time and LPUSHes one item.
int RunWakeup(const Target& target, int trials) {
  Redis r(target);
  const std::string key = "wakeup.list";
  Redis own(target);
  own.Command({"CLIENT", "SETNAME", "wakeup-getter"});
  auto parked = [&] {
    const std::string list = Str(r.Command({"CLIENT", "LIST"}));
    const size_t at = list.find("name=wakeup-getter");
    if (at == std::string::npos) return false;
    // The client's line; "flags=b" while it is blocked in BRPOP.
    const size_t begin = list.rfind('\n', at) == std::string::npos ? 0 : list.rfind('\n', at);
    const std::string line = list.substr(begin, list.find('\n', at) - begin);
    const size_t flags = line.find(" flags=");
    return flags != std::string::npos &&
           line.substr(flags + 7, line.find(' ', flags + 7) - flags - 7).find('b') !=
               std::string::npos;
  };
  bench::MeasureWakeups(
      trials,
      [&] {
        if (Popped(own.Command({"BRPOP", key, kCallTimeoutSeconds})).empty()) std::exit(1);
      },
      parked, [&](int i) { r.Command({"LPUSH", key, std::to_string(i)}); });
  return 0;
}

std::string ReadPassword(const std::string& path) {
  std::ifstream in(path);
  std::string password;
  std::getline(in, password);
  return password;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: %s client ADDRESS PASSFILE INDEX CLIENTS\n"
                 "       %s wakeup ADDRESS PASSFILE TRIALS\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  try {
    const Target target{argv[2], ReadPassword(argv[3])};
    if (mode == "client" && argc == 6) return RunClient(target, std::atoi(argv[4]), std::atoi(argv[5]));
    if (mode == "wakeup" && argc == 5) return RunWakeup(target, std::atoi(argv[4]));
    std::fprintf(stderr, "redis_bench: bad arguments\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_bench %s: %s\n", mode.c_str(), e.what());
  }
  return 1;
}

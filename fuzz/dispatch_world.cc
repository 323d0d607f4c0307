#include "fuzz/dispatch_world.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/transport/tables.h"
#include "shoal/v1/manager.pb.h"

namespace shoal::fuzz {
namespace {

server::CoreOptions Options() {
  server::CoreOptions options;
  options.authkey = "fuzz";
  // Small limits, so that fuzzed calls reach them with small inputs and
  // memory stays low between resets.
  options.max_objects = 5000;
  options.max_bytes = 64 << 20;
  options.max_message_bytes = 1 << 20;
  return options;
}

}  // namespace

const std::vector<TableKind>& AllTables() {
  static const auto* tables = new std::vector<TableKind>{
      {&server::ManagerTable(), Kind::kUnspecified},
      {&server::ListTable(), Kind::kList},
      {&server::DictTable(), Kind::kDict},
      {&server::NamespaceTable(), Kind::kNamespace},
      {&server::ValueTable(), Kind::kValue},
      {&server::LockTable(), Kind::kLock},
      {&server::RLockTable(), Kind::kRLock},
      {&server::SemaphoreTable(), Kind::kSemaphore},
      {&server::BoundedSemaphoreTable(), Kind::kBoundedSemaphore},
      {&server::ConditionTable(), Kind::kCondition},
      {&server::EventTable(), Kind::kEvent},
      {&server::BarrierTable(), Kind::kBarrier},
      {&server::QueueTable(), Kind::kQueue},
      {&server::JoinableQueueTable(), Kind::kJoinableQueue},
      {&server::ConnectionTable(), Kind::kConnection},
      {&server::ArrayTable(), Kind::kArray},
      {&server::PoolTable(), Kind::kPool},
  };
  return *tables;
}

std::vector<std::string> AllPaths() {
  std::vector<std::string> paths;
  for (const TableKind& entry : AllTables()) {
    for (const server::Method& row : entry.table->rows()) paths.push_back(row.path);
  }
  return paths;
}

std::string ObjectName(Kind kind, int index) { return absl::StrCat(KindName(kind), index); }

World::World() : core_(Options()), dispatcher_([] {
  std::vector<const server::DispatchTable*> tables;
  for (const TableKind& entry : AllTables()) tables.push_back(entry.table);
  return tables;
}()) {
  owner_ = core_.sessions().Open("fuzz setup", "in-process", absl::Now()).first;
  const server::Method* create = dispatcher_.Find("/shoal.v1.Manager/Create");
  // In the tables' order, which makes the Lock and the RLock before the
  // Condition that works over them (the kinds' numbers have gaps), then the
  // Pipes, which no table serves: their ends are the Connections.
  std::vector<Kind> kinds;
  for (const TableKind& entry : AllTables()) {
    if (entry.kind != Kind::kUnspecified && entry.kind != Kind::kConnection) {
      kinds.push_back(entry.kind);
    }
  }
  kinds.push_back(Kind::kPipe);
  for (const Kind kind : kinds) {
    for (int index = 0; index < kObjectsPerKind; ++index) {
      v1::CreateRequest request;
      request.set_kind(static_cast<v1::Kind>(kind));
      request.set_name(ObjectName(kind, index));
      switch (kind) {
        case Kind::kSemaphore:
        case Kind::kBoundedSemaphore:
          request.mutable_initial()->set_int_(index + 1);
          break;
        case Kind::kBarrier:
          request.set_parties(index + 1);
          break;
        case Kind::kQueue:
        case Kind::kJoinableQueue:
          request.set_maxsize(index * 2);
          break;
        case Kind::kArray:
          // An int array of 4 items and a double one of 5.
          request.set_typecode(index == 0 ? "i" : "d");
          request.mutable_initial()->set_int_(index + 4);
          break;
        case Kind::kPipe:
          // Pipe0 is duplex, with a buffer of a few small messages; Pipe1
          // is one-way, with the default buffer.
          request.set_duplex(index == 0);
          request.set_maxsize(index == 0 ? 256 : 0);
          break;
        case Kind::kCondition:
          // Over the Lock and the RLock made before, rather than a new RLock,
          // so the ids of the objects stay two per kind in order.
          request.mutable_lock()->set_id(id(index == 0 ? Kind::kLock : Kind::kRLock, 0));
          request.mutable_lock()->set_kind(index == 0 ? v1::LOCK : v1::RLOCK);
          break;
        default:
          break;
      }
      server::CallContext context(core_, owner_);
      absl::Status status;
      v1::CreateReply reply;
      dispatcher_.Invoke(*create, context, request.SerializeAsString(),
                         [&](absl::Status s, std::string out) {
                           status = std::move(s);
                           reply.ParseFromString(out);
                         });
      if (!status.ok()) {
        std::fprintf(stderr, "fuzz world: cannot create %s: %s\n",
                     ObjectName(kind, index).c_str(), status.ToString().c_str());
        std::abort();
      }
      ids_[{kind, index}] = reply.ref().id();
      // Connection0 and Connection1 are the two ends of Pipe0, so that what
      // one sends the other receives.
      if (kind == Kind::kPipe && index == 0) {
        ids_[{Kind::kConnection, 0}] = reply.ends().first().id();
        ids_[{Kind::kConnection, 1}] = reply.ends().second().id();
      }
    }
  }
}

World::~World() { core_.EndSession(owner_); }

uint64_t World::id(Kind kind, int index) const { return ids_.at({kind, index}); }

}  // namespace shoal::fuzz

#include "server/transport/framed_server.h"

#include <sys/epoll.h>

#include <algorithm>
#include <utility>

#include "server/transport/framed_connection.h"
#include "server/transport/stream_errors.h"
#include "server/transport/tls_context.h"
#include "shared/framing.h"

namespace shoal::server {

FramedServer::FramedServer(Core& core, const Dispatcher& dispatcher, const Handshake& handshake)
    : core_(core),
      dispatcher_(dispatcher),
      handshake_(handshake),
      pending_logins_(core.timers(), core.options().login_timeout,
                      core.options().max_pending_logins) {}

FramedServer::~FramedServer() { Stop(); }

absl::Status FramedServer::Start(int threads, TlsContext* tls, absl::Duration poll,
                                 bool batch_sends) {
  tls_ = tls;
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto loop = std::make_unique<EventLoop>();
    absl::Status opened = loop->Open();
    if (!opened.ok()) return opened;
    batches_.push_back(std::make_unique<SendBatch>(*loop, batch_sends));
    loops_.push_back(std::move(loop));
  }
  // A connection's tag is the connection.
  for (size_t i = 0; i < loops_.size(); ++i) {
    SendBatch* batch = batches_[i].get();
    loops_[i]->Start([this](void* tag, uint32_t events) { Serve(tag, events); }, poll,
                     /*poll_when_crowded=*/false, [batch] { batch->Flush(); });
  }
  return absl::OkStatus();
}

std::string FramedServer::Refusal(const absl::Status& status) {
  v1::ServerFrame last;
  FillStreamEnd(status, last.mutable_end());
  std::string bytes;
  AppendFrame(last, &bytes);
  return bytes;
}

void FramedServer::Serve(void* tag, uint32_t events) {
  auto* connection = static_cast<FramedConnection*>(tag);
  if (connection->OnEvents(events)) {
    connection->Remove();
    Forget(connection);
  }
}

void FramedServer::Adopt(int fd) {
  const size_t index = next_loop_++ % loops_.size();
  EventLoop& loop = *loops_[index];
  auto connection = std::make_shared<FramedConnection>(
      core_, dispatcher_, handshake_, fd, loop.epoll_fd(), *batches_[index],
      tls_ == nullptr ? nullptr : tls_->Current());
  bool ending = false;
  {
    MutexLock lock(&mu_);
    if (stopped_) return;  // connection closes the descriptor
    connections_.emplace(connection.get(), connection);
    ending = ending_;
  }
  pending_logins_.Add(connection);
  loop.Add(fd, connection.get(), EPOLLIN);
  if (ending) connection->End();
}

void FramedServer::Forget(FramedConnection* connection) {
  std::shared_ptr<FramedConnection> last;
  MutexLock lock(&mu_);
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  last = std::move(it->second);
  connections_.erase(it);
  // last goes after mu_ is released (declared before the lock).
}

void FramedServer::End() {
  std::vector<std::shared_ptr<FramedConnection>> open;
  {
    MutexLock lock(&mu_);
    ending_ = true;
    for (auto& [raw, connection] : connections_) open.push_back(connection);
  }
  for (auto& connection : open) connection->End();
}

void FramedServer::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& loop : loops_) loop->Stop();
  absl::flat_hash_map<FramedConnection*, std::shared_ptr<FramedConnection>> open;
  {
    MutexLock lock(&mu_);
    open.swap(connections_);
  }
  for (auto& [raw, connection] : open) {
    connection->Break();
    connection->Remove();
  }
  open.clear();
  // Each batch refers to its loop.
  batches_.clear();
  loops_.clear();
}

}  // namespace shoal::server

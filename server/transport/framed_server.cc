#include "server/transport/framed_server.h"

#include <sys/epoll.h>

#include <algorithm>
#include <utility>

#include "server/transport/framed_connection.h"

namespace shoal::server {

FramedServer::FramedServer(Core& core, const Dispatcher& dispatcher)
    : core_(core),
      dispatcher_(dispatcher),
      pending_logins_(core.timers(), core.options().login_timeout,
                      core.options().max_pending_logins) {}

FramedServer::~FramedServer() { Stop(); }

absl::StatusOr<v1::FramedEndpoint> FramedServer::Start(const std::string& address, int threads) {
  absl::StatusOr<v1::FramedEndpoint> endpoint = listener_.Bind(address);
  if (!endpoint.ok()) return endpoint.status();
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto loop = std::make_unique<EventLoop>();
    absl::Status opened = loop->Open();
    if (!opened.ok()) return opened;
    loops_.push_back(std::move(loop));
  }
  // The listener's tag is the listener itself; a connection's, the connection.
  loops_[0]->Add(listener_.fd(), &listener_, EPOLLIN);
  for (auto& loop : loops_) {
    loop->Start([this](void* tag, uint32_t events) { Serve(tag, events); });
  }
  return endpoint;
}

void FramedServer::Serve(void* tag, uint32_t events) {
  if (tag == &listener_) {
    Accept();
    return;
  }
  auto* connection = static_cast<FramedConnection*>(tag);
  if (connection->OnEvents(events)) {
    connection->Remove();
    Forget(connection);
  }
}

void FramedServer::Accept() {
  for (;;) {
    const int fd = listener_.Accept();
    if (fd < 0) return;
    EventLoop& loop = *loops_[next_loop_++ % loops_.size()];
    auto connection = std::make_shared<FramedConnection>(core_, dispatcher_, fd, loop.epoll_fd());
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
  listener_.Close();
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
  loops_.clear();
}

}  // namespace shoal::server

// The listening socket both ports use: what an accepted connection is set
// up with, and an address taken twice.
#include "server/transport/listener.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace shoal::server {
namespace {

int GetIntOption(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof(value);
  getsockopt(fd, level, name, &value, &size);
  return value;
}

TEST(ListenerTest, TheUserTimeoutCoversTheWholeKeepalive) {
  // A single unanswered probe must not end a connection: the timeout lasts
  // through the idle time and every probe.
  EXPECT_EQ(kTcpUserTimeoutMs, 60000u);
  EXPECT_EQ(kTcpUserTimeoutMs, 1000u * (kKeepaliveIdleSeconds +
                                        kKeepaliveIntervalSeconds * kKeepaliveProbes));
}

TEST(ListenerTest, AnAcceptedConnectionCarriesTheKeepaliveOptions) {
  Listener listener;
  ASSERT_TRUE(listener.Bind("127.0.0.1:0").ok());
  ASSERT_NE(listener.port(), 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(listener.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  int accepted = -1;
  for (int i = 0; i < 1000 && accepted < 0; ++i) {
    accepted = listener.Accept();
    if (accepted < 0) usleep(1000);
  }
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(GetIntOption(accepted, IPPROTO_TCP, TCP_USER_TIMEOUT), 60000);
  EXPECT_EQ(GetIntOption(accepted, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(GetIntOption(accepted, IPPROTO_TCP, TCP_KEEPINTVL), 10);
  EXPECT_EQ(GetIntOption(accepted, IPPROTO_TCP, TCP_KEEPCNT), 3);
  EXPECT_EQ(GetIntOption(accepted, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(GetIntOption(accepted, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(SocketPeerName(accepted).rfind("ipv4:127.0.0.1:", 0), 0u);
  close(accepted);
  close(client);
}

// Connects to the loopback address of family (AF_INET or AF_INET6) on port;
// true when a connection was made.
bool ConnectsOver(int family, int port) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  close(fd);
  return rc == 0;
}

bool HostHasIpv6Loopback() {
  Listener probe;
  return probe.Bind("[::1]:0").ok();
}

TEST(ListenerTest, LocalhostTakesIpv4Connections) {
  Listener listener;
  ASSERT_TRUE(listener.Bind("localhost:0").ok());
  EXPECT_TRUE(ConnectsOver(AF_INET, listener.port()));
}

TEST(ListenerTest, AnEmptyHostTakesBothFamilies) {
  Listener listener;
  ASSERT_TRUE(listener.Bind(":0").ok());
  EXPECT_TRUE(ConnectsOver(AF_INET, listener.port()));
  if (HostHasIpv6Loopback()) EXPECT_TRUE(ConnectsOver(AF_INET6, listener.port()));
}

TEST(ListenerTest, ATcpAddressInUseIsAnError) {
  Listener first;
  ASSERT_TRUE(first.Bind("127.0.0.1:0").ok());
  const std::string address = absl::StrCat("127.0.0.1:", first.port());
  Listener second;
  const absl::Status bound = second.Bind(address);
  EXPECT_FALSE(bound.ok());
  EXPECT_EQ(bound.message(),
            absl::StrCat("address ", address, " is in use (another shoal-server?)"));
}

}  // namespace
}  // namespace shoal::server

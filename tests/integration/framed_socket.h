// One framed connection to 127.0.0.1:port, driven by hand, for tests of the
// framed transport's bytes on a real socket.
#ifndef SHOAL_TESTS_INTEGRATION_FRAMED_SOCKET_H_
#define SHOAL_TESTS_INTEGRATION_FRAMED_SOCKET_H_

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "shared/framing.h"
#include "shoal/v1/session.pb.h"

namespace shoal::testing {

// Reads give up after 30 s, so that a frame that never comes fails the test.
class FramedSocket {
 public:
  explicit FramedSocket(uint32_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval timeout{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~FramedSocket() { close(fd_); }

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // The port of this end, as the server sees it.
  uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t size = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size);
    return ntohs(addr.sin_port);
  }

  bool WriteBytes(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  bool Write(const v1::ClientFrame& frame) {
    std::string bytes;
    AppendFrame(frame, &bytes);
    return WriteBytes(bytes);
  }
  void WritesDone() { shutdown(fd_, SHUT_WR); }

  // The next frame; false at the end of the connection (or a timeout).
  bool Read(v1::ServerFrame* frame) {
    char header[kFrameHeaderBytes];
    if (!ReadExactly(header, sizeof(header))) return false;
    std::string body(ReadFrameHeader(header), '\0');
    if (!ReadExactly(body.data(), body.size())) return false;
    return frame->ParseFromString(body);
  }

  // Reads frames until the end frame, which it returns; replies before it
  // are counted in replies.
  v1::StreamEnd ReadUntilEnd(int* replies = nullptr) {
    v1::ServerFrame frame;
    while (Read(&frame)) {
      if (frame.has_end()) return frame.end();
      if (replies != nullptr) *replies += frame.replies_size();
    }
    ADD_FAILURE() << "the connection ended without an end frame";
    return v1::StreamEnd();
  }

  // Whether the server closed the connection: a read finds its end.
  bool AtEnd() {
    char byte;
    return recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  bool ReadExactly(char* at, size_t size) {
    while (size > 0) {
      const ssize_t n = recv(fd_, at, size, 0);
      if (n <= 0) return false;
      at += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_INTEGRATION_FRAMED_SOCKET_H_

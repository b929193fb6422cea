#include "channel.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace vscsim::agent {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxFdsPerRead = 16;

}  // namespace

ssize_t receive(int fd, FrameDecoder& decoder, std::deque<UniqueFd>& fds) {
  static thread_local std::array<char, kReadChunk> buffer;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)> control{};
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == ENOTSOCK) n = ::read(fd, buffer.data(), buffer.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received = -1;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(received);
    }
  }
  decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  return n;
}

std::vector<UniqueFd> take_fds(std::deque<UniqueFd>& fds, std::size_t count) {
  std::vector<UniqueFd> out;
  while (out.size() < count && !fds.empty()) {
    out.push_back(std::move(fds.front()));
    fds.pop_front();
  }
  return out;
}

void OutQueue::push(std::string_view payload, std::vector<UniqueFd> fds) {
  const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
  Pending p{.bytes = std::string(header.data(), header.size()), .fds = std::move(fds)};
  p.bytes.append(payload);
  frames_.push_back(std::move(p));
}

int OutQueue::flush(int fd) {
  while (!frames_.empty()) {
    Pending& f = frames_.front();
    std::vector<int> raw;
    if (f.sent == 0) {
      for (const UniqueFd& u : f.fds) raw.push_back(u.get());
    }
    iovec iov{f.bytes.data() + f.sent, f.bytes.size() - f.sent};
    const ssize_t n = send_some(fd, &iov, 1, raw);
    if (n == -EAGAIN) return 0;
    if (n < 0) return static_cast<int>(-n);
    f.fds.clear();  // the peer has its own copies now
    f.sent += static_cast<std::size_t>(n);
    if (f.sent == f.bytes.size()) frames_.pop_front();
  }
  return 0;
}

}  // namespace vscsim::agent

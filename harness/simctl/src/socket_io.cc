#include "socket_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace vscsim::simctl::io {

namespace {

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60 * 60 * 1000));
}

// Waits until `fd` is ready for `events`; an error says why not.
Result<void, std::string> wait_for(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms_left(deadline));
    if (r > 0) return {};
    if (r == 0) return Err(fmt::format("timed out {}", what));
    if (errno != EINTR) return Err(fmt::format("poll: {}", std::strerror(errno)));
  }
}

}  // namespace

Result<void, std::string> send_all(int fd, std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    if (auto w = wait_for(fd, POLLOUT, deadline, "sending to the simulator"); !w.ok()) return w;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return Err(fmt::format("send: {}", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void, std::string> recv_exact(int fd, char* out, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    if (auto w = wait_for(fd, POLLIN, deadline, "waiting for the simulator's answer"); !w.ok()) return w;
    const ssize_t got = ::recv(fd, out, n, MSG_DONTWAIT);
    if (got == 0) return Err(std::string("the simulator closed the connection"));
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return Err(fmt::format("recv: {}", std::strerror(errno)));
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return {};
}

Result<std::string, std::string> recv_line(int fd, std::size_t max, Clock::time_point deadline) {
  std::string line;
  for (char c = 0; line.size() <= max;) {
    if (auto r = recv_exact(fd, &c, 1, deadline); !r.ok()) return Err(std::move(r.error()));
    if (c == '\n') return line;
    line += c;
  }
  return Err(std::string("the simulator's answer line is too long"));
}

Result<int, std::string> connect_unix(const std::filesystem::path& path, Clock::time_point deadline) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof a.sun_path) return Err(fmt::format("socket path too long: {}", path.string()));
  std::memcpy(a.sun_path, path.c_str(), path.string().size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Err(fmt::format("socket: {}", std::strerror(errno)));
  // A unix socket connects at once, or says EAGAIN while its backlog is full.
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    if ((errno == EAGAIN || errno == EINTR) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    const std::string why = fmt::format("connect {}: {}", path.string(), std::strerror(errno));
    ::close(fd);
    return Err(why);
  }
  return fd;
}

}  // namespace vscsim::simctl::io

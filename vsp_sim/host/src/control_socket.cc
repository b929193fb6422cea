#include "vscsim/host/control_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace vscsim::host {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.empty() || s.size() >= sizeof addr.sun_path) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(),
                            "control socket path '" + s + "'");
  }
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

// True if something accepts connections on `addr`.
bool live(const sockaddr_un& addr) {
  transport::UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

ControlSocket::ControlSocket(std::filesystem::path path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  const sockaddr_un addr = address_of(path_);
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::system_error(EEXIST, std::generic_category(),
                              "control socket path '" + path_.string() + "' is not a socket");
    }
    if (live(addr)) {
      throw std::system_error(EADDRINUSE, std::generic_category(),
                              "control socket '" + path_.string() + "' is in use");
    }
    ::unlink(path_.c_str());
  }
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_) throw_errno("control socket");
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw_errno("bind " + path_.string());
  }
  if (::listen(listener_.get(), static_cast<int>(kMaxClients)) != 0) {
    throw_errno("listen " + path_.string());
  }
}

ControlSocket::~ControlSocket() {
  clients_.clear();
  listener_.reset();
  ::unlink(path_.c_str());
}

void ControlSocket::poll() {
  // Bounded: one accept per free slot per call.
  while (clients_.size() < kMaxClients) {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    clients_.push_back({transport::UniqueFd(fd), {}});
  }
  for (std::size_t i = 0; i < clients_.size();) {
    if (serve(clients_[i])) {
      ++i;
    } else {
      clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

bool ControlSocket::serve(Client& c) {
  char buf[kMaxLine];
  const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  c.in.append(buf, static_cast<std::size_t>(n));
  auto reply = [&](const std::string& text) {
    const std::string line = text + "\n";
    // A reply is short; a client that does not read it is dropped.
    return ::send(c.fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
           static_cast<ssize_t>(line.size());
  };
  for (std::size_t nl; (nl = c.in.find('\n')) != std::string::npos;) {
    const std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    if (!reply(handler_(line))) return false;
  }
  if (c.in.size() > kMaxLine) {
    (void)reply("error line too long");
    return false;
  }
  return true;
}

}  // namespace vscsim::host

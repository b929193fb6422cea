#include "vscsim/transport/ivshmem_server.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace vscsim::transport {
namespace {

// ivshmem-spec.txt: "The protocol version number, currently zero."
constexpr std::int64_t kProtocolVersion = 0;
// The message that carries the shared-memory fd.
constexpr std::int64_t kShmMessage = -1;

// epoll tags: kind in bits 32..39, peer id in 16..31, vector in 0..15.
enum class Tag : std::uint64_t { kListener = 1, kStop = 2, kPeerSocket = 3, kHostRx = 4 };

std::uint64_t make_tag(Tag kind, PeerId peer = 0, std::uint16_t vector = 0) {
  return (static_cast<std::uint64_t>(kind) << 32) | (std::uint64_t{peer} << 16) | vector;
}

std::system_error os_error(std::string_view what) {
  return std::system_error(errno, std::generic_category(), std::string(what));
}

UniqueFd make_eventfd() {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) {
    throw os_error("eventfd");
  }
  return fd;
}

sockaddr_un socket_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.empty() || text.size() >= sizeof(address.sun_path)) {
    throw std::invalid_argument(
        fmt::format("socket path '{}' must be 1..{} bytes long", text, sizeof(address.sun_path) - 1));
  }
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

// One protocol message: a little-endian int64, optionally with one fd.
// Returns 0 or an errno value.
int send_message(int socket, std::int64_t value, int fd) {
  std::array<unsigned char, 8> bytes{};
  auto raw = static_cast<std::uint64_t>(value);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<unsigned char>(raw >> (8 * i));
  }
  iovec iov{bytes.data(), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  if (fd >= 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t sent = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(bytes.size())) {
      return 0;
    }
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    // A short write or EAGAIN: the peer is not reading its handshake. A
    // non-blocking socket keeps the loop from hanging on it.
    return sent < 0 ? errno : EIO;
  }
}

}  // namespace

IvshmemServer::IvshmemServer(ServerOptions options, ServerCallbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)) {
  if (options_.shm_fd < 0) {
    throw std::invalid_argument("ivshmem server needs a shared-memory fd");
  }
  if (options_.vectors == 0) {
    throw std::invalid_argument("ivshmem server needs at least one vector");
  }
  const sockaddr_un address = socket_address(options_.socket_path);
  next_id_ = static_cast<PeerId>(options_.host_peer_id + 1);

  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) {
    throw os_error("epoll_create1");
  }
  stop_event_ = make_eventfd();
  watch(stop_event_.get(), make_tag(Tag::kStop));

  // Replace a stale socket left by a crashed simulator, never a live one.
  struct stat existing {};
  if (::lstat(options_.socket_path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      throw std::invalid_argument(
          fmt::format("'{}' exists and is not a socket; not replacing it", options_.socket_path.string()));
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
      throw std::system_error(EADDRINUSE, std::generic_category(),
                              fmt::format("another server is listening on '{}'", options_.socket_path.string()));
    }
    ::unlink(options_.socket_path.c_str());
  }

  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_) {
    throw os_error("socket");
  }
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    throw os_error(fmt::format("bind '{}'", options_.socket_path.string()));
  }
  struct stat bound {};
  if (::stat(options_.socket_path.c_str(), &bound) == 0) {
    socket_dev_ = bound.st_dev;
    socket_ino_ = bound.st_ino;
  }
  if (options_.socket_mode != 0 && ::chmod(options_.socket_path.c_str(), options_.socket_mode) != 0) {
    const int saved = errno;
    ::unlink(options_.socket_path.c_str());
    throw std::system_error(saved, std::generic_category(), "chmod socket");
  }
  if (::listen(listener_.get(), 8) != 0) {
    const int saved = errno;
    ::unlink(options_.socket_path.c_str());
    throw std::system_error(saved, std::generic_category(), "listen");
  }
  watch(listener_.get(), make_tag(Tag::kListener));
  log(LogLevel::kInfo, fmt::format("ivshmem server listening on {} (host peer id {}, {} vectors)",
                                   options_.socket_path.string(), options_.host_peer_id, options_.vectors));
}

IvshmemServer::~IvshmemServer() { shutdown(); }

void IvshmemServer::log(LogLevel level, std::string_view message) const {
  if (options_.log) {
    options_.log(level, message);
  }
}

void IvshmemServer::watch(int fd, std::uint64_t tag) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = tag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    throw os_error("epoll_ctl add");
  }
}

void IvshmemServer::unwatch(int fd) {
  // Explicit: the peer holds the same open file descriptions, so closing our
  // fd alone would not take them out of the epoll set.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void IvshmemServer::stop() noexcept {
  stop_requested_.store(true);
  const std::uint64_t one = 1;
  // Async-signal-safe: a single write(2).
  [[maybe_unused]] const ssize_t ignored = ::write(stop_event_.get(), &one, sizeof(one));
}

void IvshmemServer::run() {
  while (!stop_requested_.load()) {
    run_once(std::chrono::milliseconds(1000));
  }
}

void IvshmemServer::run_once(std::chrono::milliseconds timeout) {
  if (shut_down_) {
    return;
  }
  constexpr int kMaxEvents = 32;
  std::array<epoll_event, kMaxEvents> events{};
  const int ready = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, static_cast<int>(timeout.count()));
  if (ready < 0) {
    if (errno == EINTR) {
      return;
    }
    throw os_error("epoll_wait");
  }
  for (int i = 0; i < ready; ++i) {
    const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
    const auto kind = static_cast<Tag>(tag >> 32);
    const auto peer = static_cast<PeerId>(tag >> 16);
    const auto vector = static_cast<std::uint16_t>(tag);
    switch (kind) {
      case Tag::kListener: accept_peer(); break;
      case Tag::kStop: {
        std::uint64_t value = 0;
        [[maybe_unused]] const ssize_t ignored = ::read(stop_event_.get(), &value, sizeof(value));
        break;
      }
      case Tag::kPeerSocket: on_peer_socket(peer); break;
      case Tag::kHostRx: on_host_rx(peer, vector); break;
    }
  }
}

bool IvshmemServer::allocate_id(PeerId& id) const {
  // Ids increase (wrapping) so a fresh peer does not reuse the id of one that
  // just left; the host's id and live ids are skipped.
  PeerId candidate = next_id_;
  for (std::uint32_t tries = 0; tries <= 0xffff; ++tries, ++candidate) {
    if (candidate != options_.host_peer_id && peers_.count(candidate) == 0) {
      id = candidate;
      return true;
    }
  }
  return false;
}

void IvshmemServer::accept_peer() {
  UniqueFd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!socket) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      log(LogLevel::kWarn, fmt::format("accept failed: {}", std::strerror(errno)));
    }
    return;
  }
  if (peers_.size() >= options_.max_guests) {
    log(LogLevel::kWarn, fmt::format("refusing a peer: already serving {} guest(s)", peers_.size()));
    return;  // closing the socket makes QEMU's device realize fail with a read error
  }
  Peer peer;
  if (!allocate_id(peer.id)) {
    log(LogLevel::kWarn, "refusing a peer: no free ivshmem id");
    return;
  }
  next_id_ = static_cast<PeerId>(peer.id + 1);
  ucred cred{};
  socklen_t cred_len = sizeof cred;
  if (::getsockopt(socket.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) peer.pid = cred.pid;
  peer.socket = std::move(socket);
  for (std::uint16_t v = 0; v < options_.vectors; ++v) {
    peer.guest_rx.push_back(make_eventfd());
    peer.host_rx.push_back(make_eventfd());
  }
  if (!send_handshake(peer)) {
    return;
  }

  // Tell the guests already here how to interrupt the new one; drop any that
  // cannot take the message.
  std::vector<PeerId> unreachable;
  for (const auto& [id, other] : peers_) {
    for (const UniqueFd& fd : peer.guest_rx) {
      if (send_message(other.socket.get(), peer.id, fd.get()) != 0) {
        unreachable.push_back(id);
        break;
      }
    }
  }

  watch(peer.socket.get(), make_tag(Tag::kPeerSocket, peer.id));
  for (std::uint16_t v = 0; v < options_.vectors; ++v) {
    watch(peer.host_rx[v].get(), make_tag(Tag::kHostRx, peer.id, v));
  }
  const PeerId id = peer.id;
  {
    std::lock_guard lock(mutex_);
    peers_.emplace(id, std::move(peer));
  }
  log(LogLevel::kInfo, fmt::format("peer {} connected", id));
  if (callbacks_.peer_connected) {
    callbacks_.peer_connected(id);
  }
  for (PeerId gone : unreachable) {
    drop_peer(gone, "it did not accept a connect notification");
  }
}

bool IvshmemServer::send_handshake(const Peer& peer) {
  const int socket = peer.socket.get();
  int error = send_message(socket, kProtocolVersion, -1);
  if (error == 0) {
    error = send_message(socket, peer.id, -1);
  }
  if (error == 0) {
    error = send_message(socket, kShmMessage, options_.shm_fd);
  }
  // Connect notifications: first the host peer (with this guest's own set of
  // host eventfds), then every other guest; vector 0..N-1 in order.
  for (std::uint16_t v = 0; error == 0 && v < options_.vectors; ++v) {
    error = send_message(socket, options_.host_peer_id, peer.host_rx[v].get());
  }
  for (const auto& [id, other] : peers_) {
    for (std::uint16_t v = 0; error == 0 && v < options_.vectors; ++v) {
      error = send_message(socket, id, other.guest_rx[v].get());
    }
  }
  // Interrupt setup: the peer's own id with the fds it is interrupted through.
  for (std::uint16_t v = 0; error == 0 && v < options_.vectors; ++v) {
    error = send_message(socket, peer.id, peer.guest_rx[v].get());
  }
  if (error != 0) {
    log(LogLevel::kWarn, fmt::format("handshake with peer {} failed: {}", peer.id, std::strerror(error)));
    return false;
  }
  return true;
}

void IvshmemServer::on_peer_socket(PeerId id) {
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      return;
    }
    fd = it->second.socket.get();
  }
  std::array<char, 64> buffer{};
  const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return;
  }
  if (got == 0) {
    drop_peer(id, "it closed the connection");
  } else if (got < 0) {
    drop_peer(id, std::strerror(errno));
  } else {
    // The protocol is one-way (server to client); a client that talks is broken.
    drop_peer(id, "it sent data on a one-way connection");
  }
}

void IvshmemServer::drop_peer(PeerId id, std::string_view why) {
  Peer peer;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      return;
    }
    peer = std::move(it->second);
    peers_.erase(it);
  }
  unwatch(peer.socket.get());
  for (const UniqueFd& fd : peer.host_rx) {
    unwatch(fd.get());
  }
  peer = Peer{};  // closes every fd of the departed peer
  for (const auto& [other_id, other] : peers_) {
    // A disconnect notification is the id with no fd.
    if (send_message(other.socket.get(), id, -1) != 0) {
      log(LogLevel::kWarn, fmt::format("could not tell peer {} that peer {} left", other_id, id));
    }
  }
  log(LogLevel::kInfo, fmt::format("peer {} disconnected: {}", id, why));
  if (callbacks_.peer_disconnected) {
    callbacks_.peer_disconnected(id);
  }
}

void IvshmemServer::on_host_rx(PeerId id, std::uint16_t vector) {
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (it == peers_.end() || vector >= it->second.host_rx.size()) {
      return;
    }
    fd = it->second.host_rx[vector].get();
  }
  std::uint64_t count = 0;
  if (::read(fd, &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count)) || count == 0) {
    return;  // spurious wake-up; eventfd reads are all or nothing
  }
  // Several doorbell writes may coalesce into one read: a signal means "look",
  // never "exactly one message".
  if (callbacks_.guest_signal) {
    callbacks_.guest_signal(id, vector);
  }
}

bool IvshmemServer::signal_guest(PeerId guest, std::uint16_t vector) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(guest);
  if (it == peers_.end() || vector >= it->second.guest_rx.size()) {
    return false;
  }
  const std::uint64_t one = 1;
  return ::write(it->second.guest_rx[vector].get(), &one, sizeof(one)) == static_cast<ssize_t>(sizeof(one));
}

std::optional<pid_t> IvshmemServer::peer_pid(PeerId id) const {
  std::lock_guard lock(mutex_);
  const auto it = peers_.find(id);
  if (it == peers_.end() || it->second.pid <= 0) return std::nullopt;
  return it->second.pid;
}

std::vector<PeerId> IvshmemServer::peers() const {
  std::lock_guard lock(mutex_);
  std::vector<PeerId> ids;
  for (const auto& [id, peer] : peers_) {
    ids.push_back(id);
  }
  return ids;
}

void IvshmemServer::shutdown() {
  if (shut_down_) {
    return;
  }
  shut_down_ = true;
  std::map<PeerId, Peer> departing;
  {
    std::lock_guard lock(mutex_);
    departing.swap(peers_);
  }
  for (const auto& [id, peer] : departing) {
    // QEMU closes the host's eventfds on this; later doorbells to the host id
    // are ignored instead of filling an eventfd nobody reads.
    [[maybe_unused]] const int ignored = send_message(peer.socket.get(), options_.host_peer_id, -1);
  }
  departing.clear();
  listener_.reset();
  // Remove the socket file only if it is still the one we bound.
  struct stat current {};
  if (::lstat(options_.socket_path.c_str(), &current) == 0 && current.st_dev == socket_dev_ &&
      current.st_ino == socket_ino_) {
    ::unlink(options_.socket_path.c_str());
  }
  log(LogLevel::kInfo, "ivshmem server shut down");
}

}  // namespace vscsim::transport

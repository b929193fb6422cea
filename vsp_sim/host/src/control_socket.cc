#include "vscsim/host/control_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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

ControlSocket::ControlSocket(std::filesystem::path path, Handler handler, ProtoHandler proto)
    : path_(std::move(path)), handler_(std::move(handler)), proto_(std::move(proto)) {
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
    clients_.push_back(Client{transport::UniqueFd(fd), {}, {}, false});
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
  // A client that does not read its answers is not read from either.
  if (!flush(c)) return false;
  if (!c.out.empty()) return true;
  // Read what fits under the mode's bound (one line, or one whole frame).
  const std::size_t limit = c.proto ? kFrameHeader + kMaxFrame : kMaxLine + 1;
  bool eof = false;
  for (int reads = 0; reads < 32 && c.in.size() < limit; ++reads) {
    const std::size_t had = c.in.size();
    const std::size_t want = std::min<std::size_t>(limit - had, 64 * 1024);
    c.in.resize(had + want);
    const ssize_t n = ::recv(c.fd.get(), c.in.data() + had, want, 0);
    c.in.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) {
      eof = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      return false;
    }
  }
  bool keep = true;
  if (!c.proto) keep = serve_text(c);     // may switch to frames
  if (keep && c.proto) keep = serve_frames(c);
  // Answers go out before a client that closed or misbehaved is dropped.
  return flush(c) && keep && !eof;
}

bool ControlSocket::serve_text(Client& c) {
  for (std::size_t nl; !c.proto && (nl = c.in.find('\n')) != std::string::npos;) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("proto", 0) == 0 && (line.size() == 5 || line[5] == ' ')) {
      if (line != "proto 1") {
        c.out += "error proto: this simulator speaks version 1 (\"proto 1\")\n";
      } else if (!proto_) {
        c.out += "error protobuf not served\n";
      } else {
        c.out += "ok proto 1\n";
        c.proto = true;  // what follows in c.in is frames
      }
      continue;
    }
    c.out += handler_(line);
    c.out += '\n';
  }
  if (!c.proto && c.in.size() > kMaxLine) {
    c.out += "error line too long\n";
    return false;
  }
  return true;
}

bool ControlSocket::serve_frames(Client& c) {
  std::size_t at = 0;  // consumed bytes of c.in, erased once at the end
  bool keep = true;
  for (std::size_t answered = 0; answered < kRequestsPerPoll && c.in.size() - at >= kFrameHeader; ++answered) {
    const auto* h = reinterpret_cast<const unsigned char*>(c.in.data() + at);
    const std::uint32_t length = std::uint32_t{h[0]} | std::uint32_t{h[1]} << 8 | std::uint32_t{h[2]} << 16 |
                                 std::uint32_t{h[3]} << 24;
    control::Response refusal;
    refusal.set_ok(false);
    if (length > kMaxFrame) {
      refusal.set_error("frame of " + std::to_string(length) + " bytes is over the limit of " +
                        std::to_string(kMaxFrame));
      queue_frame(c, refusal);
      keep = false;
      break;
    }
    if (c.in.size() - at - kFrameHeader < length) break;  // the rest is still on its way
    control::Request request;
    const bool parsed = request.ParseFromArray(c.in.data() + at + kFrameHeader, static_cast<int>(length));
    at += kFrameHeader + length;
    if (!parsed) {
      refusal.set_error("the frame is not a control.Request");
      queue_frame(c, refusal);
      keep = false;
      break;
    }
    queue_frame(c, proto_(request));
  }
  c.in.erase(0, at);
  return keep;
}

void ControlSocket::queue_frame(Client& c, const control::Response& response) const {
  std::string body = response.SerializeAsString();
  if (body.size() > kMaxFrame) {
    control::Response too_big;
    too_big.set_id(response.id());
    too_big.set_ok(false);
    too_big.set_error("the answer is over the frame limit");
    body = too_big.SerializeAsString();
  }
  const auto n = static_cast<std::uint32_t>(body.size());
  const char header[kFrameHeader] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                                     static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
  c.out.append(header, kFrameHeader);
  c.out += body;
}

bool ControlSocket::flush(Client& c) {
  // Bounded: each round sends something or stops.
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    return false;
  }
  return c.out.size() <= kMaxOutput;
}

}  // namespace vscsim::host

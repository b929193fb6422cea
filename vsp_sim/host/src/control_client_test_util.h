// Tests only: a blocking client of the control socket, in text and in
// control.proto frames, with raw access for malformed input. Every wait is a
// poll() of at most `timeout`; failures come back empty, for the test to see.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "vscsim/control.pb.h"

namespace vscsim::host::testing {

class ControlClient {
 public:
  explicit ControlClient(const std::filesystem::path& path,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : timeout_(timeout) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ControlClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }

  bool send_raw(std::string_view bytes) {
    return fd_ >= 0 && ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // One answer line without its newline; nullopt on timeout or close.
  std::optional<std::string> read_line() {
    std::string line;
    for (char c = 0; read_exact(&c, 1);) {
      if (c == '\n') return line;
      line += c;
    }
    return std::nullopt;
  }
  // "proto 1" answered "ok proto 1".
  bool switch_to_proto() { return send_raw("proto 1\n") && read_line() == "ok proto 1"; }

  static std::string frame(std::string_view body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string f{static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                  static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
    f += body;
    return f;
  }
  bool send_request(const control::Request& r) { return send_raw(frame(r.SerializeAsString())); }
  std::optional<control::Response> read_response() {
    unsigned char h[4];
    if (!read_exact(reinterpret_cast<char*>(h), sizeof h)) return std::nullopt;
    const std::uint32_t n = std::uint32_t{h[0]} | std::uint32_t{h[1]} << 8 | std::uint32_t{h[2]} << 16 |
                            std::uint32_t{h[3]} << 24;
    if (n > (1u << 20)) return std::nullopt;
    std::string body(n, '\0');
    control::Response r;
    if (!read_exact(body.data(), n) || !r.ParseFromString(body)) return std::nullopt;
    return r;
  }
  std::optional<control::Response> call(const control::Request& r) {
    if (!send_request(r)) return std::nullopt;
    return read_response();
  }
  // True once the other side closed the connection (EOF within the timeout).
  bool closed_by_peer() {
    char c = 0;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout_.count())) == 1 && ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool read_exact(char* out, std::size_t n) {
    while (n > 0) {
      pollfd p{fd_, POLLIN, 0};
      if (fd_ < 0 || ::poll(&p, 1, static_cast<int>(timeout_.count())) != 1) return false;
      const ssize_t got = ::recv(fd_, out, n, 0);
      if (got <= 0) return false;
      out += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
};

}  // namespace vscsim::host::testing

// SimControl: the client side of control.proto's transport (see the .proto):
// "proto 1" in text, then 4-byte little-endian length-prefixed frames. The
// socket is non-blocking; every wait is a poll() bounded by the caller's
// deadline, and a transport error closes the connection (what is left on it
// could be half a frame).
#include <unistd.h>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>

#include <utility>

#include "socket_io.h"
#include "vscsim/simctl/sim_process.h"

namespace vscsim::simctl {

namespace {

using io::Clock;
// control.proto's kMaxFrame (vsp_sim/host ControlSocket::kMaxFrame).
constexpr std::size_t kMaxFrame = std::size_t{1} << 20;
constexpr std::size_t kMaxLine = 256;

std::string command_name(const control::Request& request) {
  const auto* field = control::Request::descriptor()->FindFieldByNumber(request.command_case());
  return field != nullptr ? field->name() : "(no command)";
}

}  // namespace

Result<SimControl, std::string> SimControl::connect(const std::filesystem::path& control_socket,
                                                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto fd = io::connect_unix(control_socket, deadline);
  if (!fd.ok()) return Err(std::move(fd.error()));
  SimControl c(*fd);
  if (auto sent = io::send_all(c.fd_, "proto 1\n", deadline); !sent.ok()) return Err(std::move(sent.error()));
  auto line = io::recv_line(c.fd_, kMaxLine, deadline);
  if (!line.ok()) return Err(std::move(line.error()));
  if (*line != "ok proto 1") {
    return Err(fmt::format("the simulator does not speak protobuf: it answered '{}'", *line));
  }
  return c;
}

SimControl::SimControl(SimControl&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), next_id_(other.next_id_) {}

SimControl& SimControl::operator=(SimControl&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    next_id_ = other.next_id_;
  }
  return *this;
}

SimControl::~SimControl() {
  if (fd_ >= 0) ::close(fd_);
}

Result<control::Response, std::string> SimControl::call(control::Request request,
                                                       std::chrono::milliseconds timeout) {
  if (fd_ < 0) return Err(std::string("not connected (an earlier call failed)"));
  const auto deadline = Clock::now() + timeout;
  const std::uint64_t id = next_id_++;
  request.set_id(id);
  const std::string body = request.SerializeAsString();
  if (body.size() > kMaxFrame) return Err(fmt::format("request of {} bytes is over the frame limit", body.size()));
  auto result = [&]() -> Result<control::Response, std::string> {
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string frame{static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                      static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
    frame += body;
    if (auto sent = io::send_all(fd_, frame, deadline); !sent.ok()) return Err(std::move(sent.error()));
    unsigned char header[4];
    if (auto r = io::recv_exact(fd_, reinterpret_cast<char*>(header), sizeof header, deadline); !r.ok()) {
      return Err(std::move(r.error()));
    }
    const std::uint32_t length = std::uint32_t{header[0]} | std::uint32_t{header[1]} << 8 |
                                 std::uint32_t{header[2]} << 16 | std::uint32_t{header[3]} << 24;
    if (length > kMaxFrame) return Err(fmt::format("garbled answer: a frame of {} bytes", length));
    std::string answer(length, '\0');
    if (auto r = io::recv_exact(fd_, answer.data(), length, deadline); !r.ok()) return Err(std::move(r.error()));
    control::Response response;
    if (!response.ParseFromString(answer)) return Err(std::string("garbled answer: not a control.Response"));
    if (response.id() != id) {
      return Err(fmt::format("answer for request {} while waiting for {}: {}", response.id(), id, response.error()));
    }
    return response;
  }();
  if (!result.ok()) {
    ::close(fd_);
    fd_ = -1;
  }
  return result;
}

Result<control::Response, std::string> SimControl::must(control::Request request,
                                                       std::chrono::milliseconds timeout) {
  const std::string name = command_name(request);
  auto r = call(std::move(request), timeout);
  if (!r.ok()) return Err(fmt::format("{}: {}", name, r.error()));
  if (!r->ok()) return Err(fmt::format("{}: {}", name, r->error()));
  return r;
}

}  // namespace vscsim::simctl

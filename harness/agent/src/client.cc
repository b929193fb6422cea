#include "vscsim/agent/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "vscsim/agent/framing.h"

namespace vscsim::agent {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint32_t kProtocolVersion = 1;

ClientError make_error(ClientErrorKind kind, std::string message, std::uint64_t id = 0) {
  return ClientError{.kind = kind, .message = std::move(message), .id = id};
}

// Ids start at a random point, so answers meant for an earlier connection
// (the agent keeps running across hosts) do not match this one's runs.
std::uint64_t first_id() {
  std::random_device random;
  return (std::uint64_t{random()} << 32) | 1;
}

}  // namespace

ClientResult<std::unique_ptr<AgentClient>> AgentClient::connect(const std::filesystem::path& socket,
                                                                std::chrono::milliseconds timeout) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket.native().size() >= sizeof a.sun_path) {
    return Err(make_error(ClientErrorKind::kConnect, "socket path too long: " + socket.string()));
  }
  std::strncpy(a.sun_path, socket.c_str(), sizeof a.sun_path - 1);
  const auto until = Clock::now() + timeout;
  for (;;) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Err(make_error(ClientErrorKind::kConnect, std::string("socket: ") + std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return adopt(fd);
    const int err = errno;
    ::close(fd);
    if (Clock::now() >= until) {
      return Err(make_error(ClientErrorKind::kConnect, "cannot connect to the agent's socket " + socket.string() +
                                                           ": " + std::strerror(err)));
    }
    std::this_thread::sleep_for(50ms);
  }
}

std::unique_ptr<AgentClient> AgentClient::adopt(int fd) { return std::unique_ptr<AgentClient>(new AgentClient(fd)); }

AgentClient::AgentClient(int fd) : fd_(fd), next_id_(first_id()) {
  reader_ = std::thread([this] { read_loop(); });
}

AgentClient::~AgentClient() { close(); }

void AgentClient::close() {
  {
    std::lock_guard lk(write_mu_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the reader
  }
  if (reader_.joinable()) reader_.join();
  broken(ClientErrorKind::kClosed, "the connection to the agent was closed by this host");
  std::lock_guard lk(write_mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void AgentClient::broken(ClientErrorKind kind, const std::string& message) {
  std::lock_guard lk(mu_);
  if (!broken_) broken_ = make_error(kind, message);
  changed_.notify_all();
}

ClientError AgentClient::closed_error(std::uint64_t id) const {
  ClientError e = *broken_;
  e.id = id;
  return e;
}

void AgentClient::read_loop() {
  FrameDecoder decoder;
  std::string buffer(64 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken(ClientErrorKind::kClosed, n == 0 ? "the agent's port closed the connection"
                                              : std::string("reading from the agent: ") + std::strerror(errno));
      return;
    }
    decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    while (auto event = decoder.next()) {
      AgentMessage message;
      if (event->oversize || !message.ParseFromString(event->frame->payload)) {
        // The stream cannot be trusted after this: nothing later would be believed.
        broken(ClientErrorKind::kProtocol, event->oversize ? "the agent sent a frame over the 16 MiB limit"
                                                           : "the agent sent a frame that is not an AgentMessage");
        ::shutdown(fd_, SHUT_RDWR);
        return;
      }
      std::lock_guard lk(mu_);
      if (message.id() == 0 && message.has_error()) {
        unsolicited_errors_.push_back(message.error().reason());
        continue;
      }
      if (outstanding_.erase(message.id()) == 0) {
        ++stray_answers_;
        continue;
      }
      Answer answer;
      if (message.has_hello()) {
        answer = std::move(*message.mutable_hello());
      } else if (message.has_result()) {
        answer = std::move(*message.mutable_result());
      } else {
        answer = std::move(*message.mutable_error());
      }
      arrived_[message.id()] = Arrived{++arrivals_, std::move(answer)};
      changed_.notify_all();
    }
  }
}

ClientResult<std::uint64_t> AgentClient::send(HostMessage& message) {
  std::uint64_t id = 0;
  {
    std::lock_guard lk(mu_);
    if (broken_) return Err(closed_error(0));
    id = next_id_++;
    outstanding_.insert(id);
  }
  message.set_id(id);
  const std::string payload = message.SerializeAsString();
  int err = EMSGSIZE;
  if (payload.size() <= kMaxFramePayload) {
    std::lock_guard lk(write_mu_);
    err = fd_ < 0 ? EBADF : write_frame(fd_, payload, {}, Clock::now() + write_timeout_);
  }
  if (err == 0) return id;
  {
    std::lock_guard lk(mu_);
    outstanding_.erase(id);
  }
  if (err == EMSGSIZE) {
    return Err(make_error(ClientErrorKind::kProtocol,
                          "the message is " + std::to_string(payload.size()) + " bytes, over the frame limit", id));
  }
  {
    // Part of a frame may have gone: nothing after it would be understood.
    std::lock_guard lk(write_mu_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  const bool timed_out = err == ETIMEDOUT;
  broken(timed_out ? ClientErrorKind::kTimeout : ClientErrorKind::kClosed,
         timed_out ? "the agent's port did not take a frame within " + std::to_string(write_timeout_.count()) +
                         " ms; the connection is closed"
                   : std::string("writing to the agent: ") + std::strerror(err));
  std::lock_guard lk(mu_);
  return Err(closed_error(id));
}

ClientResult<OpResult> AgentClient::to_result(std::uint64_t id, Answer answer) const {
  if (auto* result = std::get_if<OpResult>(&answer)) return std::move(*result);
  if (auto* error = std::get_if<ProtocolError>(&answer)) {
    return Err(make_error(ClientErrorKind::kProtocol, "the agent refused message " + std::to_string(id) + ": " +
                                                          error->reason(), id));
  }
  return Err(make_error(ClientErrorKind::kProtocol, "a HelloReply answered a Run", id));
}

ClientResult<std::uint64_t> AgentClient::submit(const Run& run) {
  HostMessage message;
  *message.mutable_run() = run;
  return send(message);
}

ClientResult<OpResult> AgentClient::wait(std::uint64_t id, Deadline deadline) {
  std::unique_lock lk(mu_);
  if (!arrived_.contains(id) && !outstanding_.contains(id)) {
    return Err(make_error(ClientErrorKind::kNotPending, "id " + std::to_string(id) + " is not outstanding", id));
  }
  const auto waiting = waited_for_.insert(id);
  const bool ready = changed_.wait_until(lk, deadline, [&] { return arrived_.contains(id) || broken_; });
  waited_for_.erase(waiting);
  if (const auto it = arrived_.find(id); it != arrived_.end()) {
    Answer answer = std::move(it->second.answer);
    arrived_.erase(it);
    lk.unlock();
    return to_result(id, std::move(answer));
  }
  if (ready) return Err(closed_error(id));
  return Err(make_error(ClientErrorKind::kTimeout, "the agent did not answer run " + std::to_string(id) + " in time",
                        id));
}

ClientResult<Completion> AgentClient::next(Deadline deadline) {
  std::unique_lock lk(mu_);
  auto first_free = [&]() -> std::map<std::uint64_t, Arrived>::iterator {
    auto best = arrived_.end();
    for (auto it = arrived_.begin(); it != arrived_.end(); ++it) {
      if (waited_for_.contains(it->first) || std::holds_alternative<HelloReply>(it->second.answer)) continue;
      if (best == arrived_.end() || it->second.order < best->second.order) best = it;
    }
    return best;
  };
  auto nothing_to_come = [&] {
    for (const std::uint64_t id : outstanding_) {
      if (!waited_for_.contains(id)) return false;
    }
    return true;
  };
  for (;;) {
    if (const auto it = first_free(); it != arrived_.end()) {
      const std::uint64_t id = it->first;
      Answer answer = std::move(it->second.answer);
      arrived_.erase(it);
      lk.unlock();
      auto result = to_result(id, std::move(answer));
      if (!result.ok()) return Err(std::move(result).error());
      return Completion{id, std::move(result).value()};
    }
    if (broken_) return Err(closed_error(0));
    if (nothing_to_come()) return Err(make_error(ClientErrorKind::kNotPending, "no run is outstanding"));
    if (changed_.wait_until(lk, deadline) == std::cv_status::timeout && first_free() == arrived_.end()) {
      return Err(make_error(ClientErrorKind::kTimeout, "no answer came in time"));
    }
  }
}

ClientResult<OpResult> AgentClient::send_and_wait(HostMessage& message, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto id = send(message);
  if (!id.ok()) return Err(std::move(id).error());
  return wait(id.value(), deadline);
}

ClientResult<OpResult> AgentClient::run(const Run& run, std::chrono::milliseconds timeout) {
  HostMessage message;
  *message.mutable_run() = run;
  return send_and_wait(message, timeout);
}

ClientResult<OpResult> AgentClient::shutdown(std::chrono::milliseconds timeout) {
  HostMessage message;
  message.mutable_shutdown();
  return send_and_wait(message, timeout);
}

ClientResult<HelloReply> AgentClient::hello(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  HostMessage message;
  message.mutable_hello()->set_protocol_version(kProtocolVersion);
  auto sent = send(message);
  if (!sent.ok()) return Err(std::move(sent).error());
  const std::uint64_t id = sent.value();
  std::unique_lock lk(mu_);
  const auto waiting = waited_for_.insert(id);
  changed_.wait_until(lk, deadline, [&] { return arrived_.contains(id) || broken_; });
  waited_for_.erase(waiting);
  const auto it = arrived_.find(id);
  if (it == arrived_.end()) {
    outstanding_.erase(id);  // a late reply counts as stray
    if (broken_) return Err(closed_error(id));
    return Err(make_error(ClientErrorKind::kTimeout,
                          "the agent did not answer Hello within " + std::to_string(timeout.count()) +
                              " ms (is it running? the guest starts it with vscsim.agent=1)",
                          id));
  }
  Answer answer = std::move(it->second.answer);
  arrived_.erase(it);
  if (auto* reply = std::get_if<HelloReply>(&answer)) return std::move(*reply);
  if (auto* error = std::get_if<ProtocolError>(&answer)) {
    return Err(make_error(ClientErrorKind::kProtocol, "the agent refused Hello: " + error->reason(), id));
  }
  return Err(make_error(ClientErrorKind::kProtocol, "an OpResult answered Hello", id));
}

std::vector<std::string> AgentClient::protocol_errors() const {
  std::lock_guard lk(mu_);
  return unsolicited_errors_;
}

std::uint64_t AgentClient::stray_answers() const {
  std::lock_guard lk(mu_);
  return stray_answers_;
}

}  // namespace vscsim::agent

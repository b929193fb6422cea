#include "router.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "channel.h"
#include "ops.h"
#include "vscsim/agent/worker.pb.h"
#include "worker.h"

namespace vscsim::agent {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kMain = "main";
constexpr std::uint32_t kProtocolVersion = 1;
constexpr auto kPortRetry = 500ms;     // looking for a port that is not there
constexpr auto kHostProbe = 100ms;     // asking a port whose host is away whether it is back
constexpr auto kStopCheck = 200ms;     // the longest poll, so stop() is seen
constexpr auto kMainRetry = 1s;        // after the main worker failed to start
constexpr auto kShutdownWait = 10s;    // for killed processes to end
constexpr int kFinalWaitMs = 5000;     // the same, when serve() returns
constexpr int kPortReadsPerTurn = 64;  // so a busy host cannot starve the workers

void default_log(std::string_view line) {
  std::string out = "vscsim-agent: ";
  out.append(line);
  out += '\n';
  (void)!::write(STDERR_FILENO, out.data(), out.size());
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int signal_pidfd(int pidfd, int signo) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0) == 0 ? 0 : errno;
}

bool pidfd_ended(int pidfd, int timeout_ms = 0) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

int poll_ms(Clock::time_point now, Clock::time_point until) {
  return static_cast<int>(std::clamp<long long>(
      std::chrono::ceil<std::chrono::milliseconds>(until - now).count(), 0, kStopCheck / 1ms));
}

// ---- ports ----

class StreamPort final : public HostPort {
 public:
  explicit StreamPort(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd open() override { return std::move(fd_); }
  OnEof on_eof() const override { return OnEof::kEnd; }
  bool error_ends_serving() const override { return true; }
  std::string describe() const override { return "a connected stream"; }

 private:
  UniqueFd fd_;
};

class DevicePort : public HostPort {
 public:
  explicit DevicePort(std::filesystem::path path) : path_(std::move(path)) {}
  UniqueFd open() override {
    const std::filesystem::path path = find();
    return path.empty() ? UniqueFd() : UniqueFd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  }
  // A virtio-serial port reads end-of-file while no host is connected, and
  // data again once one is: the same fd serves the next host.
  OnEof on_eof() const override { return OnEof::kHostAway; }
  std::string describe() const override { return path_.string(); }

 protected:
  virtual std::filesystem::path find() const { return path_; }

 private:
  std::filesystem::path path_;
};

class VirtioPort final : public DevicePort {
 public:
  VirtioPort(std::string name, std::filesystem::path sysfs, std::filesystem::path dev)
      : DevicePort({}), name_(std::move(name)), sysfs_(std::move(sysfs)), dev_(std::move(dev)) {}
  std::string describe() const override { return "virtio-serial port " + name_; }

 private:
  std::filesystem::path find() const override {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(sysfs_, ec)) {
      std::ifstream in(entry.path() / "name");
      std::string name;
      if (std::getline(in, name) && name == name_) return dev_ / entry.path().filename();
    }
    return {};
  }

  std::string name_;
  std::filesystem::path sysfs_, dev_;
};

class ListenPort final : public HostPort {
 public:
  explicit ListenPort(std::filesystem::path path) : path_(std::move(path)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path_.native().size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long: " + path_.string());
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::unlink(path_.c_str());
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_.get(), 1) != 0) {
      throw std::runtime_error("cannot listen on " + path_.string() + ": " + std::strerror(errno));
    }
  }
  ~ListenPort() override { ::unlink(path_.c_str()); }
  ListenPort(const ListenPort&) = delete;
  ListenPort& operator=(const ListenPort&) = delete;

  UniqueFd open() override { return UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  int open_ready_fd() const override { return listener_.get(); }
  OnEof on_eof() const override { return OnEof::kReconnect; }
  std::string describe() const override { return "unix socket " + path_.string(); }

 private:
  std::filesystem::path path_;
  UniqueFd listener_;
};

}  // namespace

std::unique_ptr<HostPort> HostPort::stream(UniqueFd fd) { return std::make_unique<StreamPort>(std::move(fd)); }
std::unique_ptr<HostPort> HostPort::virtio(std::string name, std::filesystem::path sysfs, std::filesystem::path dev) {
  return std::make_unique<VirtioPort>(std::move(name), std::move(sysfs), std::move(dev));
}
std::unique_ptr<HostPort> HostPort::device(std::filesystem::path path) {
  return std::make_unique<DevicePort>(std::move(path));
}
std::unique_ptr<HostPort> HostPort::listen(std::filesystem::path path) {
  return std::make_unique<ListenPort>(std::move(path));
}

// ---- the router ----

namespace {

// A worker process as the router sees it.
struct Process {
  std::string name;
  pid_t pid = -1;
  bool own_child = false;  // forked by the router (main), which must reap it
  UniqueFd channel;
  UniqueFd pidfd;
  FrameDecoder decoder{kInternalFrameLimit};
  std::deque<UniqueFd> fds_in;
  OutQueue out;
};

// A run sent to a worker and not yet answered.
struct PendingRun {
  std::string process{};
  std::string thread{};
  std::string new_process{};  // Fork/Spawn: the name reserved for the child
  std::string kill_target{};  // Kill: whose end to notice before answering
};

// An fd on its way from one process to another (PassFd).
struct PendingAdopt {
  std::string sender;
  std::uint64_t run_id = 0;
  std::string receiver;
};

// Whether the host can be read from and written to.
enum class PortState {
  kClosed,    // no fd: the port is missing, or (listening) no host has connected
  kHostAway,  // an fd, but it reads end-of-file: probed every kHostProbe
  kPresent,   // a host is connected: read on POLLIN, written on POLLOUT
};

}  // namespace

class Router::Impl {
 public:
  Impl(std::unique_ptr<HostPort> port, RouterOptions options, std::atomic<bool>& stop)
      : port_(std::move(port)), options_(std::move(options)), stop_(stop) {
    if (!options_.log) options_.log = default_log;
  }

  void serve();

 private:
  // The host's side.
  void maintain_port(Clock::time_point now);
  void read_port();
  void port_lost(int err);
  void send_host(const AgentMessage& message);
  void protocol_error(std::uint64_t id, const std::string& reason);
  void answer_error(std::uint64_t id, const PendingRun& run, int err, const std::string& detail);

  // What the host asks.
  void on_host_frame(const std::string& payload);
  void on_host_message(HostMessage message);
  void on_run(std::uint64_t id, Run run);
  void begin_shutdown(std::uint64_t id);
  void finish_shutdown();

  // The workers.
  void start_main();
  Process* find(const std::string& name);
  void read_process(Process& process);
  void on_report(Process& from, worker::Report report, std::vector<UniqueFd> fds);
  void on_result(std::uint64_t id, OpResult& result, std::vector<UniqueFd> fds);
  void on_send_fd(Process& from, std::uint64_t run_id, const worker::SendFd& send, std::vector<UniqueFd> fds);
  void on_fd_adopted(std::uint64_t adopt_id, const worker::FdAdopted& adopted);
  void deliver_outcome(const std::string& sender, std::uint64_t run_id, int err, const std::string& detail, int fd);
  void send_process(Process& process, const worker::Command& command, std::vector<UniqueFd> fds = {});
  void add_process(std::string name, pid_t pid, bool own_child, UniqueFd channel, UniqueFd pidfd);
  void process_ended(const std::string& name);
  void reap();
  void kill_all();

  std::unique_ptr<HostPort> port_;
  RouterOptions options_;
  std::atomic<bool>& stop_;
  bool ended_ = false;

  UniqueFd conn_;
  PortState state_ = PortState::kClosed;
  FrameDecoder host_decoder_;
  std::deque<UniqueFd> host_fds_;  // a host cannot send fds; any that come are dropped
  OutQueue host_out_;
  Clock::time_point next_open_{};
  Clock::time_point next_probe_{};

  std::map<std::string, std::unique_ptr<Process>> processes_;
  std::vector<std::unique_ptr<Process>> ended_processes_;  // freed at the end of a loop turn
  std::vector<pid_t> unreaped_;                            // own children that ended
  std::set<std::string> reserved_;                         // names of Forks and Spawns under way
  std::map<std::uint64_t, PendingRun> pending_;
  std::map<std::uint64_t, PendingAdopt> adopts_;
  std::uint64_t next_adopt_id_ = 1;
  Clock::time_point next_main_start_{};

  std::optional<std::uint64_t> shutdown_id_;
  std::uint64_t shutdown_start_ns_ = 0;
  Clock::time_point shutdown_deadline_{};
  std::deque<HostMessage> deferred_;  // what came during a Shutdown, for after it
};

void Router::Impl::serve() {
  start_main();
  std::vector<pollfd> polled;
  std::vector<std::string> owners;  // the process of each pollfd after the port's
  while (!ended_ && !stop_.load(std::memory_order_relaxed)) {
    auto now = Clock::now();
    maintain_port(now);
    if (!shutdown_id_ && find(kMain) == nullptr && now >= next_main_start_) start_main();
    if (shutdown_id_ && (processes_.empty() || now >= shutdown_deadline_)) finish_shutdown();

    polled.clear();
    owners.clear();
    int timeout = static_cast<int>(kStopCheck / 1ms);
    if (state_ == PortState::kPresent) {
      polled.push_back({conn_.get(), static_cast<short>(POLLIN | (host_out_.empty() ? 0 : POLLOUT)), 0});
    } else {
      if (state_ == PortState::kClosed && port_->open_ready_fd() >= 0) {
        polled.push_back({port_->open_ready_fd(), POLLIN, 0});
      }
      timeout = std::min(timeout, poll_ms(now, state_ == PortState::kClosed ? next_open_ : next_probe_));
    }
    const std::size_t first_process = polled.size();
    for (const auto& [name, p] : processes_) {
      polled.push_back({p->channel.get(), static_cast<short>(POLLIN | (p->out.empty() ? 0 : POLLOUT)), 0});
      polled.push_back({p->pidfd.get(), POLLIN, 0});
      owners.push_back(name);
    }
    if (shutdown_id_) timeout = std::min(timeout, poll_ms(now, shutdown_deadline_));
    if (::poll(polled.data(), polled.size(), timeout) < 0 && errno != EINTR) {
      options_.log(std::string("poll: ") + std::strerror(errno));
    }

    if (first_process > 0 && polled[0].revents != 0) {
      if (state_ == PortState::kClosed) {
        next_open_ = Clock::now();  // a host is knocking
      } else {
        if ((polled[0].revents & POLLOUT) != 0) {
          if (const int err = host_out_.flush(conn_.get()); err != 0) port_lost(err);
        }
        if (state_ == PortState::kPresent && (polled[0].revents & ~POLLOUT) != 0) read_port();
      }
    }
    for (std::size_t i = 0; i < owners.size(); ++i) {
      const pollfd& channel = polled[first_process + 2 * i];
      const pollfd& pidfd = polled[first_process + 2 * i + 1];
      Process* p = find(owners[i]);
      // Gone already, or replaced by a new process of the same name (its fds were not polled).
      if (p == nullptr || p->channel.get() != channel.fd) continue;
      if ((channel.revents & POLLOUT) != 0) {
        if (p->out.flush(p->channel.get()) != 0) {
          process_ended(p->name);
          continue;
        }
      }
      if ((channel.revents & ~POLLOUT) != 0) read_process(*p);
      if (pidfd.revents != 0 && find(owners[i]) == p) {
        read_process(*p);  // what it wrote before it ended still counts
        if (find(owners[i]) == p) process_ended(p->name);
      }
    }
    ended_processes_.clear();
    reap();
  }
  kill_all();
}

// ---- the host's side ----

void Router::Impl::maintain_port(Clock::time_point now) {
  if (state_ == PortState::kClosed && now >= next_open_) {
    next_open_ = now + kPortRetry;
    UniqueFd fd = port_->open();
    if (!fd) return;
    set_nonblocking(fd.get());
    conn_ = std::move(fd);
    options_.log("opened " + port_->describe());
    host_decoder_.reset();
    if (port_->on_eof() == HostPort::OnEof::kHostAway) {
      state_ = PortState::kHostAway;
      next_probe_ = now;
    } else {
      state_ = PortState::kPresent;
    }
  }
  if (state_ == PortState::kHostAway && now >= next_probe_) {
    next_probe_ = now + kHostProbe;
    read_port();
  }
}

void Router::Impl::read_port() {
  for (int turn = 0; turn < kPortReadsPerTurn && conn_; ++turn) {
    const ssize_t n = receive(conn_.get(), host_decoder_, host_fds_);
    host_fds_.clear();
    if (n == -EAGAIN) {
      // A virtio port says EAGAIN (not end-of-file) only while a host is connected.
      if (state_ == PortState::kHostAway) options_.log("host connected");
      state_ = PortState::kPresent;
      return;
    }
    if (n <= 0) {
      if (state_ == PortState::kPresent || n < 0) port_lost(static_cast<int>(-n));
      return;
    }
    if (state_ == PortState::kHostAway) options_.log("host connected");
    state_ = PortState::kPresent;
    while (auto event = host_decoder_.next()) {
      if (event->oversize) {
        protocol_error(0, "a frame of " + std::to_string(event->oversize->declared) + " bytes, over the " +
                              std::to_string(kMaxFramePayload) + "-byte limit; its bytes are skipped");
      } else {
        on_host_frame(event->frame->payload);
      }
    }
  }
}

void Router::Impl::port_lost(int err) {
  host_decoder_.reset();
  host_out_.clear();  // answers for a host that left are not for the next one
  if (err == 0 && port_->on_eof() == HostPort::OnEof::kHostAway) {
    options_.log("host disconnected");
    state_ = PortState::kHostAway;
    return;
  }
  if (err == 0 ? port_->on_eof() == HostPort::OnEof::kEnd : port_->error_ends_serving()) {
    ended_ = true;
    return;
  }
  options_.log(err == 0 ? "host disconnected" : port_->describe() + ": " + std::strerror(err) + "; looking for it again");
  conn_.reset();
  state_ = PortState::kClosed;
}

void Router::Impl::send_host(const AgentMessage& message) {
  if (state_ != PortState::kPresent) return;
  const std::string payload = message.SerializeAsString();
  if (payload.size() > kMaxFramePayload) {
    return protocol_error(message.id(), "the answer is " + std::to_string(payload.size()) + " bytes, over the limit");
  }
  host_out_.push(payload);
  if (const int err = host_out_.flush(conn_.get()); err != 0) port_lost(err);
}

void Router::Impl::protocol_error(std::uint64_t id, const std::string& reason) {
  AgentMessage message;
  message.set_id(id);
  message.mutable_error()->set_reason(reason);
  send_host(message);
}

void Router::Impl::answer_error(std::uint64_t id, const PendingRun& run, int err, const std::string& detail) {
  AgentMessage message;
  message.set_id(id);
  OpResult& r = *message.mutable_result();
  r.set_process(run.process);
  r.set_thread(run.thread);
  r.set_start_ns(monotonic_ns());
  r.set_end_ns(r.start_ns());
  set_errno(r, err);
  r.set_detail(detail);
  send_host(message);
}

// ---- what the host asks ----

void Router::Impl::on_host_frame(const std::string& payload) {
  HostMessage message;
  if (!message.ParseFromString(payload)) {
    return protocol_error(0, "a " + std::to_string(payload.size()) + "-byte frame that is not a HostMessage");
  }
  on_host_message(std::move(message));
}

void Router::Impl::on_host_message(HostMessage message) {
  switch (message.body_case()) {
    case HostMessage::kHello: {
      AgentMessage reply;
      reply.set_id(message.id());
      HelloReply& hello = *reply.mutable_hello();
      hello.set_protocol_version(kProtocolVersion);
      utsname u{};
      if (::uname(&u) == 0) hello.set_kernel_release(u.release);
      hello.set_pid(static_cast<std::uint32_t>(::getpid()));
      hello.set_monotonic_ns(monotonic_ns());
      return send_host(reply);
    }
    case HostMessage::kShutdown:
    case HostMessage::kRun:
      if (shutdown_id_) {
        deferred_.push_back(std::move(message));
      } else if (message.has_shutdown()) {
        begin_shutdown(message.id());
      } else {
        on_run(message.id(), std::move(*message.mutable_run()));
      }
      return;
    default: return protocol_error(message.id(), "a HostMessage without a body");
  }
}

void Router::Impl::on_run(std::uint64_t id, Run run) {
  if (id == 0) return protocol_error(0, "a Run with id 0 (0 marks unsolicited answers)");
  if (pending_.contains(id)) return protocol_error(id, "id " + std::to_string(id) + " is already in flight");
  if (run.op().kind_case() == Op::KIND_NOT_SET) return protocol_error(id, "a Run without an operation");
  if (run.process().empty()) run.set_process(kMain);
  if (run.thread().empty()) run.set_thread(kMain);
  PendingRun pending{.process = run.process(), .thread = run.thread()};
  Process* process = find(run.process());
  if (process == nullptr) return answer_error(id, pending, ESRCH, "no process named '" + run.process() + "'");

  worker::Command command;
  command.set_id(id);
  std::vector<UniqueFd> fds;
  auto refuse = [&](int err, const std::string& detail) {
    command.set_refuse_errno(err);
    command.set_refuse_detail(detail);
  };
  const Op& op = run.op();
  if (op.has_fork() || op.has_spawn()) {
    const std::string& child = op.has_fork() ? op.fork().child() : op.spawn().name();
    if (child.empty()) {
      refuse(EINVAL, "a new process needs a name");
    } else if (find(child) != nullptr || reserved_.contains(child)) {
      refuse(EEXIST, "a process named '" + child + "' exists");
    } else {
      reserved_.insert(child);
      pending.new_process = child;
    }
  } else if (op.has_kill()) {
    const Process* target = find(op.kill().process());
    if (target == nullptr) {
      refuse(ESRCH, "no process named '" + op.kill().process() + "'");
    } else {
      UniqueFd pidfd(::fcntl(target->pidfd.get(), F_DUPFD_CLOEXEC, 0));
      if (!pidfd) {
        refuse(errno, "dup of the target's pidfd");
      } else {
        fds.push_back(std::move(pidfd));
        command.set_fds(1);
        pending.kill_target = target->name;
      }
    }
  }
  *command.mutable_run() = std::move(run);
  pending_.emplace(id, std::move(pending));
  send_process(*process, command, std::move(fds));
}

void Router::Impl::begin_shutdown(std::uint64_t id) {
  shutdown_id_ = id;
  shutdown_start_ns_ = monotonic_ns();
  shutdown_deadline_ = Clock::now() + kShutdownWait;
  for (const auto& [name, p] : processes_) (void)signal_pidfd(p->pidfd.get(), SIGKILL);
}

void Router::Impl::finish_shutdown() {
  AgentMessage message;
  message.set_id(*shutdown_id_);
  OpResult& r = *message.mutable_result();
  r.set_start_ns(shutdown_start_ns_);
  if (!processes_.empty()) {
    std::string names;
    for (const auto& [name, p] : processes_) names += (names.empty() ? "" : ", ") + name;
    set_errno(r, ETIMEDOUT);
    r.set_detail("still running " + std::to_string(kShutdownWait / 1s) + " s after SIGKILL, forgotten: " + names);
    while (!processes_.empty()) process_ended(processes_.begin()->first);
  }
  pending_.clear();
  adopts_.clear();
  reserved_.clear();
  shutdown_id_.reset();
  r.set_end_ns(monotonic_ns());
  send_host(message);
  start_main();
  std::deque<HostMessage> deferred = std::move(deferred_);
  deferred_.clear();
  while (!deferred.empty()) {
    on_host_message(std::move(deferred.front()));
    deferred.pop_front();
  }
}

// ---- the workers ----

void Router::Impl::start_main() {
  ForkedWorker forked;
  UniqueFd pidfd;
  int err = fork_worker(kMain, {}, std::nullopt, forked);
  if (err == 0) err = await_worker(forked, pidfd);
  if (err != 0) {
    options_.log(std::string("cannot start the main worker: ") + std::strerror(err));
    if (forked.pid > 0) unreaped_.push_back(forked.pid);
    next_main_start_ = Clock::now() + kMainRetry;
    return;
  }
  add_process(kMain, forked.pid, true, std::move(forked.channel), std::move(pidfd));
}

Process* Router::Impl::find(const std::string& name) {
  const auto it = processes_.find(name);
  return it == processes_.end() ? nullptr : it->second.get();
}

void Router::Impl::add_process(std::string name, pid_t pid, bool own_child, UniqueFd channel, UniqueFd pidfd) {
  set_nonblocking(channel.get());
  auto p = std::make_unique<Process>();
  p->name = name;
  p->pid = pid;
  p->own_child = own_child;
  p->channel = std::move(channel);
  p->pidfd = std::move(pidfd);
  // A child reported while a Shutdown is under way is ended with the rest.
  if (shutdown_id_) (void)signal_pidfd(p->pidfd.get(), SIGKILL);
  processes_[std::move(name)] = std::move(p);
}

void Router::Impl::read_process(Process& process) {
  const std::string name = process.name;
  for (;;) {
    const ssize_t n = receive(process.channel.get(), process.decoder, process.fds_in);
    if (n == -EAGAIN) return;
    if (n <= 0) return process_ended(name);
    while (auto event = process.decoder.next()) {
      worker::Report report;
      if (!event->frame || !report.ParseFromString(event->frame->payload)) {
        options_.log("process '" + name + "' sent a frame that is not a Report; ending it");
        return process_ended(name);
      }
      auto fds = take_fds(process.fds_in, report.fds());
      on_report(process, std::move(report), std::move(fds));
      if (find(name) != &process) return;  // it ended meanwhile
    }
  }
}

void Router::Impl::on_report(Process& from, worker::Report report, std::vector<UniqueFd> fds) {
  switch (report.body_case()) {
    case worker::Report::kResult: return on_result(report.id(), *report.mutable_result(), std::move(fds));
    case worker::Report::kSendFd: return on_send_fd(from, report.id(), report.send_fd(), std::move(fds));
    case worker::Report::kFdAdopted: return on_fd_adopted(report.id(), report.fd_adopted());
    default: return;
  }
}

void Router::Impl::on_result(std::uint64_t id, OpResult& result, std::vector<UniqueFd> fds) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answered already (its process was taken for ended)
  const PendingRun run = std::move(it->second);
  pending_.erase(it);
  if (!run.new_process.empty()) {
    reserved_.erase(run.new_process);
    if (result.err() == 0 && fds.size() == 2) {
      add_process(run.new_process, static_cast<pid_t>(result.value()), false, std::move(fds[0]), std::move(fds[1]));
    }
  }
  if (!run.kill_target.empty()) {
    // The host's next step must not find the killed process still listed.
    if (Process* target = find(run.kill_target); target != nullptr && pidfd_ended(target->pidfd.get())) {
      read_process(*target);
      if (find(run.kill_target) == target) process_ended(run.kill_target);
    }
  }
  AgentMessage message;
  message.set_id(id);
  *message.mutable_result() = std::move(result);
  send_host(message);
}

void Router::Impl::on_send_fd(Process& from, std::uint64_t run_id, const worker::SendFd& send,
                              std::vector<UniqueFd> fds) {
  Process* to = find(send.to());
  if (to == nullptr || fds.empty()) {
    return deliver_outcome(from.name, run_id, fds.empty() ? EBADF : ESRCH,
                           fds.empty() ? "the fd did not arrive" : "no process named '" + send.to() + "'", -1);
  }
  const std::uint64_t adopt_id = next_adopt_id_++;
  adopts_[adopt_id] = PendingAdopt{.sender = from.name, .run_id = run_id, .receiver = to->name};
  worker::Command command;
  command.set_id(adopt_id);
  command.set_fds(1);
  command.mutable_adopt_fd()->set_slot(send.slot());
  fds.resize(1);
  send_process(*to, command, std::move(fds));
}

void Router::Impl::on_fd_adopted(std::uint64_t adopt_id, const worker::FdAdopted& adopted) {
  const auto it = adopts_.find(adopt_id);
  if (it == adopts_.end()) return;
  const PendingAdopt adopt = it->second;
  adopts_.erase(it);
  deliver_outcome(adopt.sender, adopt.run_id, adopted.err(), adopted.detail(), adopted.fd());
}

void Router::Impl::deliver_outcome(const std::string& sender, std::uint64_t run_id, int err,
                                   const std::string& detail, int fd) {
  Process* p = find(sender);
  if (p == nullptr) return;
  worker::Command command;
  command.set_id(run_id);
  auto* delivered = command.mutable_fd_delivered();
  delivered->set_err(err);
  delivered->set_detail(detail);
  delivered->set_fd(fd);
  send_process(*p, command);
}

void Router::Impl::send_process(Process& process, const worker::Command& command, std::vector<UniqueFd> fds) {
  process.out.push(command.SerializeAsString(), std::move(fds));
  if (process.out.flush(process.channel.get()) != 0) process_ended(process.name);
}

void Router::Impl::process_ended(const std::string& name) {
  const auto it = processes_.find(name);
  if (it == processes_.end()) return;
  std::unique_ptr<Process> p = std::move(it->second);
  processes_.erase(it);
  (void)signal_pidfd(p->pidfd.get(), SIGKILL);  // a worker that closed its channel is of no use
  if (p->own_child) unreaped_.push_back(p->pid);
  for (auto run = pending_.begin(); run != pending_.end();) {
    if (run->second.process != name) {
      ++run;
      continue;
    }
    reserved_.erase(run->second.new_process);
    answer_error(run->first, run->second, ESRCH, "process '" + name + "' ended before answering");
    run = pending_.erase(run);
  }
  // Told after the table is settled: telling a sender may end it too, and
  // that call changes adopts_.
  std::vector<PendingAdopt> undelivered;
  for (auto adopt = adopts_.begin(); adopt != adopts_.end();) {
    if (adopt->second.sender != name && adopt->second.receiver != name) {
      ++adopt;
      continue;
    }
    if (adopt->second.receiver == name) undelivered.push_back(adopt->second);
    adopt = adopts_.erase(adopt);
  }
  ended_processes_.push_back(std::move(p));  // callers up the stack may still hold it
  for (const PendingAdopt& a : undelivered) {
    deliver_outcome(a.sender, a.run_id, ESRCH, "process '" + name + "' ended", -1);
  }
  if (name == kMain && !shutdown_id_) next_main_start_ = Clock::now();
}

void Router::Impl::reap() {
  if (options_.reap_all_children) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  std::erase_if(unreaped_, [](pid_t pid) {
    const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD);
  });
}

void Router::Impl::kill_all() {
  for (const auto& [name, p] : processes_) (void)signal_pidfd(p->pidfd.get(), SIGKILL);
  for (const auto& [name, p] : processes_) {
    if (p->own_child && pidfd_ended(p->pidfd.get(), kFinalWaitMs)) ::waitpid(p->pid, nullptr, 0);
  }
  processes_.clear();
  ended_processes_.clear();
  for (const pid_t pid : unreaped_) ::waitpid(pid, nullptr, WNOHANG);
  unreaped_.clear();
}

Router::Router(std::unique_ptr<HostPort> port, RouterOptions options)
    : impl_(std::make_unique<Impl>(std::move(port), std::move(options), stop_)) {}

Router::~Router() = default;

void Router::serve() { impl_->serve(); }

}  // namespace vscsim::agent

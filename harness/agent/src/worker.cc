#include "worker.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "channel.h"
#include "ops.h"
#include "vscsim/agent/worker.pb.h"

namespace vscsim::agent {
namespace {

constexpr const char* kMainThread = "main";
constexpr int kStartupWaitMs = 10'000;
// How long a PassFd waits for the router to say the fd arrived.
constexpr auto kDeliveryWait = std::chrono::seconds(30);

[[noreturn]] void quit(int status) { ::_exit(status); }

// Closes every fd but `keep` (close_range over the gaps).
void close_all_except(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned first = 0;
  for (const int fd : keep) {
    if (fd < 0) continue;
    const auto k = static_cast<unsigned>(fd);
    if (k > first) ::syscall(SYS_close_range, first, k - 1, 0);
    first = k + 1;
  }
  ::syscall(SYS_close_range, first, ~0u, 0);
}

// Handlers the parent installed (the agent's stop handler; a test framework's)
// mean nothing here: a signal the host sends must act as on any process.
void reset_signals() {
  for (int signo = 1; signo < NSIG; ++signo) {
    struct sigaction current {};
    if (::sigaction(signo, nullptr, &current) != 0) continue;
    const bool has_function = (current.sa_flags & SA_SIGINFO) != 0 ||
                              (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN);
    if (has_function) ::signal(signo, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

class Worker {
 public:
  Worker(std::string name, UniqueFd channel) : name_(std::move(name)), channel_(std::move(channel)) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  SlotTable& slots() { return slots_; }
  [[noreturn]] void serve();

 private:
  struct Queued {
    worker::Command command;
    UniqueFd fd;  // a Kill's target
  };
  struct Thread {
    std::string name;
    std::deque<Queued> queue;  // guarded by Worker::mu_
    std::condition_variable wake;
  };

  void dispatch(worker::Command command, std::vector<UniqueFd> fds);
  void enqueue(Queued queued);
  std::shared_ptr<Thread> start_thread(const std::string& name, std::deque<Queued> queue);
  void thread_main(const std::shared_ptr<Thread>& thread);
  // Runs one command's operation; returns the fds to send with its answer.
  std::vector<UniqueFd> run(const Queued& queued, UniqueFd pidfd, OpResult& result, bool& exit_after);
  std::vector<UniqueFd> start_process(const std::string& child, const std::optional<Credentials>& credentials,
                                      OpResult& result);
  void pass_fd(std::uint64_t id, const PassFd& op, OpResult& result);
  void retire(const std::shared_ptr<Thread>& thread);
  void send(const worker::Report& report, const std::vector<UniqueFd>& fds = {});

  std::string name_;
  UniqueFd channel_;
  std::mutex write_mu_;  // one answer at a time on the channel
  SlotTable slots_;

  std::mutex mu_;  // guards threads_, deliveries_
  std::map<std::string, std::shared_ptr<Thread>> threads_;
  std::map<std::uint64_t, std::optional<worker::FdDelivered>> deliveries_;
  std::condition_variable delivered_;
};

void Worker::serve() {
  // Children made by Fork/Spawn are reaped by the kernel; the router follows them by pidfd.
  ::signal(SIGCHLD, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  FrameDecoder decoder(kInternalFrameLimit);
  std::deque<UniqueFd> fds;
  for (;;) {
    const ssize_t n = receive(channel_.get(), decoder, fds);
    if (n == 0 || (n < 0 && n != -EAGAIN)) quit(0);  // the router is gone, or ended us
    while (auto event = decoder.next()) {
      worker::Command command;
      if (!event->frame || !command.ParseFromString(event->frame->payload)) quit(3);  // the router never sends such
      auto attached = take_fds(fds, command.fds());
      dispatch(std::move(command), std::move(attached));
    }
  }
}

void Worker::dispatch(worker::Command command, std::vector<UniqueFd> fds) {
  switch (command.body_case()) {
    case worker::Command::kRun: {
      UniqueFd fd = fds.empty() ? UniqueFd() : std::move(fds.front());
      enqueue(Queued{std::move(command), std::move(fd)});
      return;
    }
    case worker::Command::kAdoptFd: {
      worker::Report report;
      report.set_id(command.id());
      auto* adopted = report.mutable_fd_adopted();
      if (fds.empty()) {
        adopted->set_err(EBADF);
      } else {
        adopted->set_fd(fds.front().get());
        if (!slots_.add(command.adopt_fd().slot(), std::move(fds.front()))) {
          adopted->set_err(EEXIST);
          adopted->set_detail("slot '" + command.adopt_fd().slot() + "' is taken in process '" + name_ + "'");
        }
      }
      send(report);
      return;
    }
    case worker::Command::kFdDelivered: {
      std::lock_guard lk(mu_);
      if (auto it = deliveries_.find(command.id()); it != deliveries_.end()) {
        it->second = command.fd_delivered();
        delivered_.notify_all();
      }
      return;
    }
    default: return;
  }
}

void Worker::enqueue(Queued queued) {
  const std::string& name = queued.command.run().thread();
  std::lock_guard lk(mu_);
  if (auto it = threads_.find(name); it != threads_.end()) {
    it->second->queue.push_back(std::move(queued));
    it->second->wake.notify_one();
    return;
  }
  std::deque<Queued> queue;
  const std::uint64_t id = queued.command.id();
  queue.push_back(std::move(queued));
  try {
    threads_[name] = start_thread(name, std::move(queue));
  } catch (const std::system_error& e) {
    worker::Report report;
    report.set_id(id);
    OpResult& r = *report.mutable_result();
    r.set_process(name_);
    r.set_thread(name);
    r.set_start_ns(monotonic_ns());
    r.set_end_ns(r.start_ns());
    set_errno(r, EAGAIN, std::string("cannot start the thread: ") + e.what());
    send(report);
  }
}

std::shared_ptr<Worker::Thread> Worker::start_thread(const std::string& name, std::deque<Queued> queue) {
  auto thread = std::make_shared<Thread>();
  thread->name = name;
  thread->queue = std::move(queue);
  // Detached: the process ends with _exit, never by joining.
  std::thread([this, thread] { thread_main(thread); }).detach();
  return thread;
}

void Worker::thread_main(const std::shared_ptr<Thread>& thread) {
  for (;;) {
    Queued queued;
    {
      std::unique_lock lk(mu_);
      thread->wake.wait(lk, [&] { return !thread->queue.empty(); });
      queued = std::move(thread->queue.front());
      thread->queue.pop_front();
    }
    worker::Report report;
    report.set_id(queued.command.id());
    OpResult& result = *report.mutable_result();
    result.set_process(name_);
    result.set_thread(thread->name);
    result.set_start_ns(monotonic_ns());
    bool exit_after = false;
    const std::vector<UniqueFd> attached = run(queued, std::move(queued.fd), result, exit_after);
    result.set_end_ns(monotonic_ns());
    report.set_fds(static_cast<std::uint32_t>(attached.size()));
    send(report, attached);
    if (exit_after) {
      if (thread->name == kMainThread) quit(0);
      retire(thread);
      return;
    }
  }
}

std::vector<UniqueFd> Worker::run(const Queued& queued, UniqueFd pidfd, OpResult& result, bool& exit_after) {
  const worker::Command& command = queued.command;
  if (command.refuse_errno() != 0) {
    set_errno(result, command.refuse_errno());
    result.set_detail(command.refuse_detail());
    return {};
  }
  const Op& op = command.run().op();
  switch (op.kind_case()) {
    case Op::kFork: return start_process(op.fork().child(), std::nullopt, result);
    case Op::kSpawn:
      return start_process(op.spawn().name(), Credentials{op.spawn().uid(), op.spawn().gid()}, result);
    case Op::kPassFd: pass_fd(command.id(), op.pass_fd(), result); return {};
    case Op::kExit: exit_after = true; return {};
    default: run_local_op(op, slots_, std::move(pidfd), result); return {};
  }
}

std::vector<UniqueFd> Worker::start_process(const std::string& child, const std::optional<Credentials>& credentials,
                                            OpResult& result) {
  ForkedWorker forked;
  int err = 0;
  {
    // Held across fork so that the child's slots are exactly the fds it inherits.
    const auto lk = slots_.lock();
    err = fork_worker(child, credentials ? std::vector<std::pair<std::string, int>>{} : slots_.snapshot_locked(),
                      credentials, forked);
  }
  UniqueFd pidfd;
  if (err == 0) err = await_worker(forked, pidfd);
  if (err != 0) {
    set_errno(result, err, credentials ? "spawn '" + child + "'" : "fork '" + child + "'");
    return {};
  }
  result.set_value(forked.pid);
  std::vector<UniqueFd> out;
  out.push_back(std::move(forked.channel));
  out.push_back(std::move(pidfd));
  return out;
}

void Worker::pass_fd(std::uint64_t id, const PassFd& op, OpResult& result) {
  const SharedFd fd = slots_.find(op.slot());
  if (!fd) return set_errno(result, EBADF, "no slot '" + op.slot() + "' in this process");
  {
    std::lock_guard lk(mu_);
    deliveries_[id] = std::nullopt;
  }
  worker::Report report;
  report.set_id(id);
  report.set_fds(1);
  report.mutable_send_fd()->set_to(op.to());
  report.mutable_send_fd()->set_slot(op.new_slot());
  {
    std::lock_guard lk(write_mu_);
    const int fds[] = {fd->get()};
    if (write_frame(channel_.get(), report.SerializeAsString(), fds) != 0) quit(0);
  }
  std::unique_lock lk(mu_);
  const bool arrived = delivered_.wait_for(lk, kDeliveryWait, [&] { return deliveries_[id].has_value(); });
  const std::optional<worker::FdDelivered> outcome = deliveries_[id];
  deliveries_.erase(id);
  lk.unlock();
  if (!arrived) return set_errno(result, ETIMEDOUT, "the router did not confirm the delivery");
  result.set_value(outcome->fd());
  if (outcome->err() != 0) {
    set_errno(result, outcome->err());
    result.set_detail(outcome->detail());
  }
}

void Worker::retire(const std::shared_ptr<Thread>& thread) {
  std::lock_guard lk(mu_);
  auto it = threads_.find(thread->name);
  if (it == threads_.end() || it->second != thread) return;
  threads_.erase(it);
  // Runs already queued behind the Exit go to a new thread of the same name,
  // as if they had named it for the first time.
  if (!thread->queue.empty()) {
    try {
      threads_[thread->name] = start_thread(thread->name, std::move(thread->queue));
    } catch (const std::system_error&) {
      quit(4);  // the runs could never be answered; the router answers them when it sees us go
    }
  }
}

void Worker::send(const worker::Report& report, const std::vector<UniqueFd>& fds) {
  std::string payload = report.SerializeAsString();
  if (payload.size() > kMaxFramePayload && report.has_result()) {
    // The answer cannot travel whole: say so instead of sending a frame the host must refuse.
    worker::Report trimmed = report;
    OpResult& r = *trimmed.mutable_result();
    r.clear_data();
    r.clear_blob();
    set_errno(r, EMSGSIZE, "the answer is " + std::to_string(payload.size()) + " bytes, over the frame limit");
    payload = trimmed.SerializeAsString();
  }
  std::vector<int> raw;
  for (const UniqueFd& fd : fds) raw.push_back(fd.get());
  std::lock_guard lk(write_mu_);
  if (write_frame(channel_.get(), payload, raw) != 0) quit(0);  // the router is gone
}

// The child side of fork_worker; never returns.
[[noreturn]] void become_worker(const std::string& name, UniqueFd channel, UniqueFd ready,
                                const std::vector<std::pair<std::string, int>>& slots,
                                const std::optional<Credentials>& credentials) {
  std::vector<int> keep{STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, channel.get(), ready.get()};
  for (const auto& slot : slots) keep.push_back(slot.second);
  close_all_except(keep);
  reset_signals();
  int err = 0;
  if (credentials && (::setgroups(0, nullptr) != 0 || ::setgid(credentials->gid) != 0 ||
                      ::setuid(credentials->uid) != 0)) {
    err = errno;
  }
  (void)!::write(ready.get(), &err, sizeof err);
  if (err != 0) quit(1);
  ready.reset();
  try {
    // Leaked on purpose: the process ends with _exit, and its threads use it until then.
    auto* worker = new Worker(name, std::move(channel));
    for (const auto& [slot, fd] : slots) (void)worker->slots().add(slot, UniqueFd(fd));
    worker->serve();
  } catch (...) {
    quit(5);
  }
}

}  // namespace

int fork_worker(const std::string& name, const std::vector<std::pair<std::string, int>>& slots,
                const std::optional<Credentials>& credentials, ForkedWorker& out) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return errno;
  UniqueFd ours(pair[0]), theirs(pair[1]);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
  UniqueFd ready_read(pipe_fds[0]), ready_write(pipe_fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    (void)ours.release();  // closed with every other fd, never through the parent's objects
    (void)ready_read.release();
    become_worker(name, std::move(theirs), std::move(ready_write), slots, credentials);
  }
  out.pid = pid;
  out.channel = std::move(ours);
  out.ready = std::move(ready_read);
  return 0;
}

int await_worker(ForkedWorker& worker, UniqueFd& pidfd) {
  pollfd p{worker.ready.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, kStartupWaitMs);
  } while (n < 0 && errno == EINTR);
  int err = ETIMEDOUT;
  if (n > 0 && ::read(worker.ready.get(), &err, sizeof err) != static_cast<ssize_t>(sizeof err)) err = ECHILD;
  worker.ready.reset();
  if (err == 0) {
    pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, worker.pid, 0)));
    if (!pidfd) err = errno;
  }
  // A child that never said it runs is stuck before its dispatcher (and so
  // not yet reaped): nothing else knows it, so end it here.
  if (err == ETIMEDOUT) ::kill(worker.pid, SIGKILL);
  return err;
}

}  // namespace vscsim::agent

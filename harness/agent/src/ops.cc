#include "ops.h"

#include <fcntl.h>
#include <linux/az_blob.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "fd_transport.h"
#include "vscsim/agent/fill.h"
#include "vscsim/azblob/device.h"
#include "vscsim/blob.pb.h"

namespace vscsim::agent {
namespace {

constexpr std::size_t kPage = 4096;
// BlobCall buffers beyond what the driver accepts in one request are refused
// before anything is allocated (the client library would refuse them anyway).
constexpr std::uint64_t kMaxBlobBuffer = std::uint64_t{AZ_BLOB_MAX_PAGES} * kPage;
constexpr std::uint32_t kDefaultResponseCapacity = 64u << 10;
// How long a Kill with SIGKILL waits for its target to end before answering.
constexpr int kKillWaitMs = 10'000;

// An anonymous, page-aligned mapping, unmapped when it goes.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base_ != nullptr) ::munmap(base_, size_);
  }

  // `length` bytes at `offset` into a fresh mapping (MAP_NORESERVE: a huge
  // length costs nothing until touched), `bytes` copied to its start.
  // Length 0 with no bytes is no buffer at all: a null pointer. Returns 0 or an errno.
  int create(std::uint64_t offset, std::uint64_t length, const std::string& bytes) {
    const std::uint64_t used = std::max<std::uint64_t>(length, bytes.size());
    if (used == 0) return 0;
    size_ = (offset + used + kPage - 1) / kPage * kPage;
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      size_ = 0;
      return errno;
    }
    base_ = static_cast<std::byte*>(p);
    buffer_ = base_ + offset;
    std::memcpy(buffer_, bytes.data(), bytes.size());
    return 0;
  }

  // `length` bytes (a whole number of pages), every page allocated now.
  int create_populated(std::uint64_t length) {
    void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return errno;
    base_ = buffer_ = static_cast<std::byte*>(p);
    size_ = length;
    return 0;
  }

  [[nodiscard]] std::byte* buffer() const { return buffer_; }
  [[nodiscard]] std::size_t pages() const { return size_ / kPage; }
  int unmap_page(std::size_t page) { return ::munmap(base_ + page * kPage, kPage) == 0 ? 0 : errno; }
  int make_read_only() { return base_ == nullptr || ::mprotect(base_, size_, PROT_READ) == 0 ? 0 : errno; }

 private:
  std::byte* base_ = nullptr;
  std::byte* buffer_ = nullptr;
  std::size_t size_ = 0;
};

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

SharedFd need_slot(const SlotTable& slots, const std::string& slot, OpResult& result) {
  SharedFd fd = slots.find(slot);
  if (!fd) set_errno(result, EBADF, "no slot '" + slot + "' in this process");
  return fd;
}

void run_open(const Open& op, SlotTable& slots, OpResult& result) {
  const int flags = static_cast<int>(op.flags() == 0 ? O_RDWR : op.flags());
  UniqueFd fd(::open(op.path().c_str(), flags | O_CLOEXEC, 0644));
  if (!fd) return set_errno(result, errno, "open " + op.path());
  result.set_value(fd.get());
  if (!slots.add(op.slot(), std::move(fd))) set_errno(result, EEXIST, "slot '" + op.slot() + "' is taken");
}

void run_dup(const Dup& op, SlotTable& slots, OpResult& result) {
  const SharedFd fd = need_slot(slots, op.slot(), result);
  if (!fd) return;
  UniqueFd copy(::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0));
  if (!copy) return set_errno(result, errno, "dup of slot '" + op.slot() + "'");
  result.set_value(copy.get());
  if (!slots.add(op.new_slot(), std::move(copy))) set_errno(result, EEXIST, "slot '" + op.new_slot() + "' is taken");
}

void run_ioctl(const Ioctl& op, SlotTable& slots, OpResult& result) {
  const SharedFd fd = need_slot(slots, op.slot(), result);
  if (!fd) return;
  const std::uint32_t request_len = op.request_len() == 0 ? static_cast<std::uint32_t>(op.request().size())
                                                          : op.request_len();
  Mapping request, response, data;
  for (auto [mapping, offset, length, bytes] :
       {std::tuple{&request, op.request_offset(), request_len, &op.request()},
        std::tuple{&response, op.response_offset(), op.response_len(), static_cast<const std::string*>(nullptr)},
        std::tuple{&data, op.data_offset(), op.data_len(), &op.data()}}) {
    if (const int err = mapping->create(offset, length, bytes ? *bytes : std::string()); err != 0) {
      return set_errno(result, err, "agent: cannot map a " + std::to_string(length) + "-byte buffer; not sent");
    }
  }
  for (const std::uint32_t page : op.unmapped_pages()) {
    if (page >= data.pages()) {
      return set_errno(result, EINVAL,
                       "agent: page " + std::to_string(page) + " is outside the " + std::to_string(data.pages()) +
                           "-page data mapping; not sent");
    }
    if (const int err = data.unmap_page(page); err != 0) return set_errno(result, err, "agent: munmap; not sent");
  }
  if (op.response_read_only()) (void)response.make_read_only();
  if (op.data_read_only()) (void)data.make_read_only();

  az_blob_request_sync sync{};
  std::memcpy(sync.guid, op.guid().data(), std::min(op.guid().size(), sizeof sync.guid));
  sync.timeout = op.timeout_ms();
  sync.request_len = request_len;
  sync.response_len = op.response_len();
  sync.data_len = op.data_len();
  sync.data_valid = op.data_valid();
  sync.reserved = op.reserved();
  sync.request_buffer = op.has_request_address() ? op.request_address() : address_of(request.buffer());
  sync.response_buffer = op.has_response_address() ? op.response_address() : address_of(response.buffer());
  sync.data_buffer = op.has_data_address() ? op.data_address() : address_of(data.buffer());
  const unsigned long cmd = op.cmd() == 0 ? IOCTL_AZ_BLOB_DRIVER_USER_REQUEST : op.cmd();

  const int rc = ::ioctl(fd->get(), cmd, &sync);
  result.set_value(rc);
  if (rc < 0) return set_errno(result, errno);
  result.set_status(sync.response.status);
  result.set_response_len(sync.response.response_len);
  // Only our own buffer is read back: a replaced address may point anywhere.
  if (!op.has_response_address() && response.buffer() != nullptr) {
    const std::size_t n = std::min<std::size_t>(sync.response.response_len, op.response_len());
    result.set_data(reinterpret_cast<const char*>(response.buffer()), n);
  }
}

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

void run_blob_call(const BlobCall& op, SlotTable& slots, OpResult& result) {
  SharedFd fd = need_slot(slots, op.slot(), result);
  if (!fd) return;
  const std::uint64_t response_capacity = op.response_capacity() == 0 ? kDefaultResponseCapacity
                                                                      : op.response_capacity();
  for (const std::uint64_t size : {op.fill_length(), op.data_capacity(), response_capacity}) {
    if (size > kMaxBlobBuffer) {
      return set_errno(result, EINVAL,
                       "agent: a " + std::to_string(size) + "-byte buffer is over the driver's " +
                           std::to_string(kMaxBlobBuffer) + "-byte limit; not sent");
    }
  }
  std::vector<std::byte> filled;
  std::span<const std::byte> data_in = as_bytes(op.data());
  if (op.fill_length() > 0) {
    filled = fill_bytes(op.fill_seed(), op.fill_length());
    data_in = filled;
  }
  if (!data_in.empty()) result.set_digest(digest_bytes(sha256(data_in)));
  std::vector<std::byte> data_out(op.data_capacity());
  const std::string request = op.request().SerializeAsString();

  azblob::Device device("slot " + op.slot(), std::make_unique<SlotFdTransport>(std::move(fd)));
  auto answer = device.call(as_bytes(request), response_capacity, data_in, data_out,
                            std::chrono::milliseconds(op.timeout_ms()));
  if (!answer.ok()) {
    const azblob::Error& e = answer.error();
    switch (e.kind) {
      case azblob::ErrorKind::kWire: result.set_status(e.wire_status); break;
      case azblob::ErrorKind::kIoctl: set_errno(result, e.sys_errno); break;
      case azblob::ErrorKind::kMalformed: set_errno(result, EBADMSG); break;
      default: set_errno(result, EINVAL); break;  // refused by the library: nothing was sent
    }
    result.set_detail(e.message);
    return;
  }
  const std::vector<std::byte>& response = answer.value();
  result.set_response_len(static_cast<std::uint32_t>(response.size()));
  if (!result.mutable_blob()->ParseFromArray(response.data(), static_cast<int>(response.size()))) {
    return set_errno(result, EBADMSG, "the host's response does not decode as a blob.Response");
  }
  if (result.blob().has_get()) {
    const std::size_t n = std::min<std::uint64_t>(result.blob().get().length(), data_out.size());
    const std::span<const std::byte> got(data_out.data(), n);
    if (op.digest_only()) {
      result.set_digest(digest_bytes(sha256(got)));
    } else {
      result.set_data(reinterpret_cast<const char*>(got.data()), got.size());
    }
  }
}

void run_write_file(const WriteFile& op, OpResult& result) {
  UniqueFd fd(::open(op.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return set_errno(result, errno, "open " + op.path());
  // One write(2) for the whole buffer where the file takes it: sysfs acts on each write.
  std::size_t done = 0;
  while (done < op.data().size()) {
    const ssize_t n = ::write(fd.get(), op.data().data() + done, op.data().size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.set_value(static_cast<std::int64_t>(done));
      return set_errno(result, n < 0 ? errno : EIO, "write " + op.path());
    }
    done += static_cast<std::size_t>(n);
  }
  result.set_value(static_cast<std::int64_t>(done));
}

void run_read_file(const ReadFile& op, OpResult& result) {
  const std::uint32_t max = op.max_bytes() == 0 ? kDefaultReadBytes : std::min(op.max_bytes(), kMaxReadBytes);
  UniqueFd fd(::open(op.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return set_errno(result, errno, "open " + op.path());
  std::string bytes(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    const ssize_t n = ::read(fd.get(), bytes.data() + got, max - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      set_errno(result, errno, "read " + op.path());
      break;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  result.set_value(static_cast<std::int64_t>(got));
  result.set_data(std::move(bytes));
}

// Exec. The agent ignores SIGCHLD (its Fork/Spawn children are reaped by the
// kernel), and exec makes any child a SIGCHLD child again, so the program's
// exit status would be lost. Hence two steps: a waiter started by clone3
// with no exit signal and a pidfd (never exec'ing, so the kernel keeps it
// until waitid(P_PIDFD, __WALL) collects it; waitpid(-1) never sees it)
// forks the program, waits for it and exits with its status. Both lead a
// process group of their own, so a timeout kills both.
//
// In the waiter and the program: no allocation, only async-signal-safe
// calls. If execve fails its errno goes to `exec_fd` (close-on-exec: a
// successful exec closes it without a byte).
[[noreturn]] void exec_waiter(char* const* argv, char* const* envp, int out_fd, int err_fd, int exec_fd) {
  ::setpgid(0, 0);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);  // waitpid below, and the program's own children
  ::sigaction(SIGPIPE, &dfl, nullptr);
  const long pid = ::syscall(SYS_fork);
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    int err = 0;
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
        ::dup2(err_fd, STDERR_FILENO) < 0) {
      err = errno;
    } else {
      ::execve(argv[0], argv, envp);
      err = errno;
    }
    (void)!::write(exec_fd, &err, sizeof err);
    ::_exit(127);
  }
  int err = errno;
  ::close(out_fd);
  ::close(err_fd);
  if (pid < 0) {
    (void)!::write(exec_fd, &err, sizeof err);
    ::_exit(127);
  }
  ::close(exec_fd);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

void run_exec(const Exec& op, OpResult& result) {
  if (op.argv().empty() || op.argv(0).empty()) return set_errno(result, EINVAL, "exec: no program given");
  constexpr std::size_t kStderrTail = 4096;
  const std::size_t max_out = op.max_output_bytes() == 0 ? std::size_t{1} << 20 : op.max_output_bytes();
  const auto timeout = std::chrono::milliseconds(op.timeout_ms() == 0 ? 60'000 : op.timeout_ms());
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return set_errno(result, errno, "exec: pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return set_errno(result, errno, "exec: pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return set_errno(result, errno, "exec: pipe");
  UniqueFd exec_r(exec_pipe[0]), exec_w(exec_pipe[1]);
  // Everything the child needs is prepared here: it may not allocate.
  std::vector<char*> argv;
  for (const auto& a : op.argv()) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char path_env[] = "PATH=/sbin:/bin";
  char* envp[] = {path_env, nullptr};

  int pidfd_raw = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd_raw);
  args.exit_signal = 0;  // not SIGCHLD: not reaped behind our back, not seen by waitpid(-1)
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return set_errno(result, errno, "exec: clone3");
  if (pid == 0) exec_waiter(argv.data(), envp, out_w.get(), err_w.get(), exec_w.get());
  UniqueFd pidfd(pidfd_raw);
  out_w.reset();
  err_w.reset();
  exec_w.reset();
  const auto collect = [&]() {
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info, WEXITED | __WALL) < 0 &&
           errno == EINTR) {
    }
    return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  };
  int exec_err = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_r.get(), &exec_err, sizeof exec_err);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_err)) {
    collect();
    return set_errno(result, exec_err, "exec " + op.argv(0));
  }

  std::string out, errs;
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[16384];
      const ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        fds[i].fd = -1;  // end of output (or a broken pipe): stop polling it
        continue;
      }
      std::string& sink = i == 0 ? out : errs;
      sink.append(buf, static_cast<std::size_t>(r));
      if (i == 0 && out.size() > max_out) out.resize(max_out);  // keep reading: never block the child
      if (i == 1 && errs.size() > 2 * kStderrTail) errs.erase(0, errs.size() - kStderrTail);
    }
  }
  if (timed_out) ::kill(-static_cast<pid_t>(pid), SIGKILL);  // the waiter's group: waiter and program
  result.set_value(collect());
  if (errs.size() > kStderrTail) errs.erase(0, errs.size() - kStderrTail);
  result.set_data(std::move(out));
  if (timed_out) {
    set_errno(result, ETIMEDOUT, "exec " + op.argv(0) + ": killed after " + std::to_string(timeout.count()) + " ms");
    if (!errs.empty()) result.set_detail(result.detail() + "; stderr: " + errs);
  } else if (!errs.empty()) {
    result.set_detail(std::move(errs));
  }
}

void run_load_module(const LoadModule& op, OpResult& result) {
  UniqueFd fd(::open(op.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return set_errno(result, errno, "open " + op.path());
  if (::syscall(SYS_finit_module, fd.get(), op.params().c_str(), 0) != 0) {
    set_errno(result, errno, "finit_module " + op.path());
  }
}

void run_unload_module(const UnloadModule& op, OpResult& result) {
  // O_NONBLOCK: fail at once if the module is in use (what rmmod does).
  if (::syscall(SYS_delete_module, op.name().c_str(), O_NONBLOCK) != 0) {
    set_errno(result, errno, "delete_module " + op.name());
  }
}

// MemAvailable of /proc/meminfo in KiB, or nullopt.
std::optional<std::uint64_t> mem_available_kib() {
  UniqueFd fd(::open("/proc/meminfo", O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[4096];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  const char* at = std::strstr(buf, "MemAvailable:");
  unsigned long long kib = 0;
  if (at == nullptr || std::sscanf(at, "MemAvailable: %llu kB", &kib) != 1) return std::nullopt;
  return kib;
}

// What MemoryPressure operations hold: the process keeps it until it exits.
std::mutex g_held_mu;
std::vector<std::unique_ptr<Mapping>> g_held;

void run_memory_pressure(const MemoryPressure& op, OpResult& result) {
  constexpr std::uint64_t kMinLeaveKib = 4096;
  constexpr std::uint64_t kChunkKib = 16u << 10;
  if (op.leave_available_kib() < kMinLeaveKib) {
    return set_errno(result, EINVAL, "leave_available_kib below " + std::to_string(kMinLeaveKib));
  }
  {
    // Best effort: without it the OOM killer may pick the agent instead.
    UniqueFd adj(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
    if (!adj || ::write(adj.get(), "1000", 4) != 4) return set_errno(result, errno, "oom_score_adj");
  }
  std::uint64_t held = 0;
  for (;;) {
    const auto avail = mem_available_kib();
    if (!avail) return set_errno(result, EIO, "no MemAvailable in /proc/meminfo");
    if (*avail <= op.leave_available_kib()) break;
    const std::uint64_t kib = std::min(*avail - op.leave_available_kib(), kChunkKib);
    auto map = std::make_unique<Mapping>();
    // Touched by the kernel at once (MAP_POPULATE): held, not merely promised.
    if (const int err = map->create_populated(kib << 10); err != 0) {
      set_errno(result, err, "mapping " + std::to_string(kib) + " KiB");
      break;
    }
    held += kib << 10;
    std::lock_guard lock(g_held_mu);
    g_held.push_back(std::move(map));
  }
  result.set_value(static_cast<std::int64_t>(held));
}

void run_kill(const Kill& op, UniqueFd pidfd, OpResult& result) {
  const int signo = op.signal() == 0 ? SIGKILL : op.signal();
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signo, nullptr, 0) != 0) {
    return set_errno(result, errno, "signal " + std::to_string(signo) + " to process '" + op.process() + "'");
  }
  if (signo != SIGKILL) return;
  // Answer once the target is gone, its files closed, so the host's next step sees it gone.
  pollfd p{pidfd.get(), POLLIN, 0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kKillWaitMs);
  int n = 0;
  do {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
  } while (n < 0 && errno == EINTR);
  result.set_value(n > 0 ? 1 : 0);
  if (n <= 0) {
    result.set_detail("process '" + op.process() + "' was sent SIGKILL but had not ended after " +
                      std::to_string(kKillWaitMs) + " ms");
  }
}

}  // namespace

std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string errno_name(int err) {
  if (err == 0) return "";
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

void set_errno(OpResult& result, int err, const std::string& detail) {
  result.set_err(err);
  result.set_errno_name(errno_name(err));
  if (!detail.empty()) result.set_detail(err == 0 ? detail : detail + ": " + std::strerror(err));
}

void run_local_op(const Op& op, SlotTable& slots, UniqueFd pidfd, OpResult& result) {
  switch (op.kind_case()) {
    case Op::kOpen: return run_open(op.open(), slots, result);
    case Op::kClose:
      if (!slots.remove(op.close().slot())) set_errno(result, EBADF, "no slot '" + op.close().slot() + "'");
      return;
    case Op::kDup: return run_dup(op.dup(), slots, result);
    case Op::kIoctl: return run_ioctl(op.ioctl(), slots, result);
    case Op::kBlob: return run_blob_call(op.blob(), slots, result);
    case Op::kWriteFile: return run_write_file(op.write_file(), result);
    case Op::kReadFile: return run_read_file(op.read_file(), result);
    case Op::kLoadModule: return run_load_module(op.load_module(), result);
    case Op::kUnloadModule: return run_unload_module(op.unload_module(), result);
    case Op::kSleep: std::this_thread::sleep_for(std::chrono::milliseconds(op.sleep().ms())); return;
    case Op::kKill: return run_kill(op.kill(), std::move(pidfd), result);
    case Op::kMemoryPressure: return run_memory_pressure(op.memory_pressure(), result);
    case Op::kExec: return run_exec(op.exec(), result);
    default: return set_errno(result, EINVAL, "agent: not an operation a worker runs on its own");
  }
}

}  // namespace vscsim::agent

#include "vscsim/libvirt/libvirt_guest.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "vscsim/libvirt/domain_xml.h"

namespace vscsim::libvirt {

struct LibvirtGuest::Handles {
  virConnectPtr conn = nullptr;
  virDomainPtr domain = nullptr;
};

namespace {

namespace fs = std::filesystem;
using launcher::LaunchError;

// libvirt prints every error to stderr by default; the launcher reports them
// itself, once, with context.
void quiet_errors(void*, virErrorPtr) {}

std::string last_libvirt_error() {
  const char* message = virGetLastErrorMessage();
  return message != nullptr ? message : "unknown libvirt error";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs argv to completion (the daemons fork themselves into the background
// with -d); true if it exited with 0.
bool run_to_completion(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

virConnectPtr try_connect() { return virConnectOpen(kSystemUri); }

const char* kHowToStart =
    "start it: as root on a machine without systemd `virtlogd -d && libvirtd -d`, with systemd "
    "`systemctl start libvirtd` (install: ci/install-deps.sh)";

// The uid and gid libvirt runs QEMU as.
struct QemuIds {
  uid_t uid;
  gid_t gid;
};
QemuIds qemu_ids() {
  const passwd* pw = ::getpwnam(kQemuUser);
  if (pw == nullptr) {
    throw LaunchError(fmt::format("no user '{}': is libvirt-daemon-system installed (ci/install-deps.sh)?",
                                  kQemuUser));
  }
  return {pw->pw_uid, pw->pw_gid};
}

// libvirtd probes QEMU's capabilities as the QEMU user. When /dev/kvm exists
// but that user cannot open it (a machine without udev leaves it root-only
// 0600), the probe records KVM and every later check finds KVM unusable, so
// libvirtd probes again on each domain start: about 75 s here. Debian's udev
// rule makes it root:kvm 0660 (libvirt-qemu is in kvm); root does the same
// here. The guest still runs as chosen (type qemu is TCG).
// Whether the QEMU user (its own or a supplementary group) can open `st` read-write.
bool qemu_user_can_open(const struct stat& st) {
  const passwd* pw = ::getpwnam(kQemuUser);
  if (pw == nullptr) return false;
  if (st.st_uid == pw->pw_uid) return (st.st_mode & S_IRUSR) && (st.st_mode & S_IWUSR);
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  if (::getgrouplist(kQemuUser, pw->pw_gid, groups.data(), &n) < 0) n = 0;
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<std::size_t>(i)] == st.st_gid) return (st.st_mode & S_IRGRP) && (st.st_mode & S_IWGRP);
  }
  return (st.st_mode & S_IROTH) && (st.st_mode & S_IWOTH);
}

void make_kvm_node_consistent() {
  struct stat st {};
  if (::stat("/dev/kvm", &st) != 0 || qemu_user_can_open(st)) return;
  const group* kvm = ::getgrnam("kvm");
  if (::geteuid() == 0 && kvm != nullptr && ::chown("/dev/kvm", 0, kvm->gr_gid) == 0 &&
      ::chmod("/dev/kvm", 0660) == 0 && ::stat("/dev/kvm", &st) == 0 && qemu_user_can_open(st)) {
    std::fprintf(stderr, "vscsim: /dev/kvm made root:kvm 0660 (Debian's udev default) so libvirtd stops "
                         "re-probing QEMU on every domain start\n");
    return;
  }
  std::fprintf(stderr, "vscsim: warning: %s cannot open /dev/kvm, so libvirtd re-probes QEMU on every domain start "
                       "(about a minute each); as root: chgrp kvm /dev/kvm && chmod 0660 /dev/kvm\n", kQemuUser);
}

virConnectPtr connect_system() {
  virSetErrorFunc(nullptr, quiet_errors);
  if (virConnectPtr c = try_connect()) return c;
  const std::string first_error = last_libvirt_error();
  if (::geteuid() != 0) {
    throw LaunchError(fmt::format("cannot connect to libvirt ({}): {}; libvirtd may not be running: {}",
                                  kSystemUri, first_error, kHowToStart));
  }
  // Root may start the daemons: the way this machine's init would.
  if (fs::exists("/run/systemd/system")) {
    run_to_completion({"systemctl", "start", "libvirtd"});
  } else {
    // Either may fail because another launcher just started it (its pid
    // file is locked): the connection below is what counts.
    run_to_completion({"virtlogd", "-d"});
    run_to_completion({"libvirtd", "-d"});
  }
  for (int i = 0; i < 200; ++i) {  // 20 s: libvirtd probes QEMU's capabilities on its first start
    if (virConnectPtr c = try_connect()) {
      std::fprintf(stderr, "vscsim: started libvirtd (it was not running)\n");
      return c;
    }
    ::usleep(100 * 1000);
  }
  throw LaunchError(fmt::format("cannot connect to libvirt ({}) even after starting libvirtd: {}; {}",
                                kSystemUri, last_libvirt_error(), kHowToStart));
}

// QEMU (as libvirt-qemu) must traverse every folder above the run folder.
void check_reachable(const fs::path& dir) {
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      throw LaunchError(fmt::format("{} is not searchable by other users, so QEMU (running as {}) cannot reach "
                                    "the run folder {}; set TMPDIR to a folder under one that is (e.g. /tmp)",
                                    p.string(), kQemuUser, dir.string()));
    }
    if (p == p.root_path()) break;
  }
}

fs::path stage(const fs::path& from, const fs::path& dir, const char* what) {
  if (from.empty()) return {};
  if (!fs::exists(from)) throw LaunchError(fmt::format("guest {} not found: {}", what, from.string()));
  const fs::path to = dir / from.filename();
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw LaunchError(fmt::format("copying the guest {} {} into {}: {}", what, from.string(), dir.string(),
                                        ec.message()));
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                          fs::perms::others_read);
  return to;
}

fs::path emulator_path(const std::string& qemu) {
  if (qemu.find('/') != std::string::npos) return fs::absolute(qemu);
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    const fs::path candidate = fs::path(d) / qemu;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw LaunchError(fmt::format("cannot find {} on PATH (install qemu-system-x86: ci/install-deps.sh)", qemu));
}

// libvirt's pid file of a running domain (its stateDir/<name>.pid).
pid_t read_qemu_pid(const std::string& name) {
  std::ifstream in(fmt::format("/run/libvirt/qemu/{}.pid", name));
  long pid = -1;
  in >> pid;
  return in ? static_cast<pid_t>(pid) : -1;
}

}  // namespace

LibvirtGuest::LibvirtGuest(launcher::LaunchOptions options)
    : options_(std::move(options)), handles_(std::make_unique<Handles>()) {}

std::unique_ptr<LibvirtGuest> LibvirtGuest::launch(const launcher::LaunchOptions& options) {
  std::unique_ptr<LibvirtGuest> guest(new LibvirtGuest(options));
  guest->start();
  return guest;
}

void LibvirtGuest::start() {
  if (const std::string why = unsupported_option(options_); !why.empty()) throw LaunchError(why);
  // Domain names are unique on the host; two runs (or two sessions of one
  // run) must not collide.
  static std::atomic<unsigned> launched{0};
  options_.name = fmt::format("{}-{}-{}", options_.name, ::getpid(), launched++);
  const QemuIds qemu = qemu_ids();
  make_kvm_node_consistent();
  handles_->conn = connect_system();

  run_dir_ = std::make_unique<launcher::RunDir>();
  run_dir_path_ = run_dir_->path();
  check_reachable(run_dir_path_);
  fs::permissions(run_dir_path_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  DomainFiles files;
  files.emulator = emulator_path(options_.qemu);
  files.kernel = stage(options_.kernel, run_dir_path_, "kernel");
  files.initrd = stage(options_.initrd, run_dir_path_, "initramfs");
  files.firmware = stage(options_.firmware, run_dir_path_, "firmware");
  console_log_ = options_.console_log.empty() ? run_dir_path_ / "console.log" : options_.console_log;
  agent_socket_ = run_dir_path_ / "agent.sock";
  { std::ofstream truncate(console_log_, std::ios::trunc); }
  files.console_log = console_log_;
  files.agent_socket = agent_socket_;
  if (!options_.run_script.empty()) {
    files.run_script = run_dir_path_ / "run.sh";
    std::ofstream(files.run_script, std::ios::binary) << options_.run_script;
    fs::permissions(files.run_script, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
  }

  if (options_.before_qemu_starts) {
    const auto more = options_.before_qemu_starts({{}, run_dir_path_, launcher::Backend::Libvirt});
    options_.ivshmem.insert(options_.ivshmem.end(), more.begin(), more.end());
  }
  for (const auto& device : options_.ivshmem) {
    if (::chown(device.server_socket.c_str(), qemu.uid, qemu.gid) != 0) {
      throw LaunchError(fmt::format("handing {} to {}: {}", device.server_socket.string(), kQemuUser,
                                    std::strerror(errno)));
    }
  }

  xml_ = libvirt::domain_xml(options_, files);
  std::ofstream(run_dir_path_ / "domain.xml", std::ios::binary) << xml_;
  started_at_ = std::chrono::steady_clock::now();
  // AUTODESTROY: libvirtd destroys the domain when this connection closes,
  // however this process ends.
  handles_->domain = virDomainCreateXML(handles_->conn, xml_.c_str(), VIR_DOMAIN_START_AUTODESTROY);
  if (handles_->domain == nullptr) {
    run_dir_->keep();
    throw LaunchError(fmt::format("libvirt did not start the domain: {} (domain XML kept: {})",
                                  last_libvirt_error(), (run_dir_path_ / "domain.xml").string()));
  }
  pid_ = read_qemu_pid(options_.name);
  watchdog_ = std::thread([this] { watchdog(); });
}

std::string LibvirtGuest::describe_launch() const {
  return fmt::format("libvirt domain {} on {} (domain XML: {})", options_.name, kSystemUri,
                     (run_dir_path_ / "domain.xml").string());
}

std::string LibvirtGuest::qemu_stderr() const {
  if (handles_->conn == nullptr) return final_log_;
  // The log holds libvirt's lines (start-up banner, the command line) and
  // QEMU's stderr, each of QEMU's lines naming the program: keep those.
  std::istringstream log(read_file(fmt::format("/var/log/libvirt/qemu/{}.log", options_.name)));
  std::string said;
  for (std::string line; std::getline(log, line);) {
    if (const auto at = line.find("qemu-system-"); at != std::string::npos && line.find(": ", at) != std::string::npos) {
      said += line.substr(at) + "\n";
    }
  }
  return said;
}

void LibvirtGuest::record_exit(bool destroyed_here) {
  if (exit_) return;
  launcher::ExitInfo info;
  bool deadline = false;
  {
    std::lock_guard lock(mu_);
    deadline = deadline_hit_;
  }
  if (destroyed_here || deadline) {
    info.signal = SIGKILL;
  } else {
    info.exited = true;  // the guest powered off, rebooted or crashed: the domain ended itself
  }
  info.killed_at_deadline = deadline;
  exit_ = info;
}

bool LibvirtGuest::running() {
  if (exit_) return false;
  if (handles_->domain != nullptr && virDomainIsActive(handles_->domain) == 1) return true;
  record_exit(false);  // a transient domain that stopped is gone: IsActive fails
  return false;
}

void LibvirtGuest::wait_for_exit(std::chrono::milliseconds timeout) {
  std::this_thread::sleep_for(timeout);
}

void LibvirtGuest::watchdog() {
  std::unique_lock lock(mu_);
  const auto deadline = started_at_ + options_.deadline;
  if (!cv_.wait_until(lock, deadline, [this] { return stopping_; })) {
    deadline_hit_ = true;
    lock.unlock();
    virDomainDestroy(handles_->domain);  // the connection is thread-safe
  }
}

launcher::ExitInfo LibvirtGuest::stop(std::chrono::milliseconds grace) {
  if (handles_->domain != nullptr && running()) {
    // GRACEFUL: SIGTERM only (QEMU exits at once, as the QEMU backend's stop);
    // then by force if it is still there after `grace`.
    virDomainDestroyFlags(handles_->domain, VIR_DOMAIN_DESTROY_GRACEFUL);
    const auto until = std::chrono::steady_clock::now() + grace;
    while (virDomainIsActive(handles_->domain) == 1 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (virDomainIsActive(handles_->domain) == 1) virDomainDestroy(handles_->domain);
    record_exit(true);
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  if (handles_->conn != nullptr) final_log_ = qemu_stderr();
  if (handles_->domain != nullptr) virDomainFree(handles_->domain);
  handles_->domain = nullptr;
  if (handles_->conn != nullptr) virConnectClose(handles_->conn);
  handles_->conn = nullptr;
  read_console_file();
  run_dir_.reset();
  return exit_.value_or(launcher::ExitInfo{});
}

LibvirtGuest::~LibvirtGuest() {
  if (handles_->conn != nullptr || run_dir_) stop();
}

}  // namespace vscsim::libvirt

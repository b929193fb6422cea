// End-to-end checks of the ivshmem server against the installed
// qemu-system-x86_64 (label vm: no guest kernel, but a real QEMU process).
//
// 1. QEMU with ivshmem-doorbell connects, completes the handshake, maps BAR2
//    and keeps running.
// 2. Under the qtest accelerator the test plays the guest: it programs the
//    device's BAR0 through PCI config space, reads IVPosition and writes the
//    Doorbell register; the server must see "guest G rang vector V".
// 3. A clean server shutdown does not take QEMU down.
#define BOOST_TEST_MODULE transport_qemu_handshake
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fmt/format.h>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vscsim/transport/ivshmem_server.h"
#include "vscsim/transport/shared_region.h"

extern char** environ;

namespace vt = vscsim::transport;
namespace layout = vscsim::transport::layout;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kQemu = "qemu-system-x86_64";

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("vscsim-qemu-" + std::to_string(::getpid()) + "-" + name);
}

// A QEMU child process, killed by pid when the object goes away.
class Qemu {
 public:
  explicit Qemu(const std::vector<std::string>& args) : log_path_(temp_path("qemu.log")) {
    std::vector<std::string> copy{kQemu};
    copy.insert(copy.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : copy) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const int rc = posix_spawnp(&pid_, kQemu, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " << kQemu << ": " << std::strerror(rc));
  }
  Qemu(const Qemu&) = delete;
  Qemu& operator=(const Qemu&) = delete;

  // True while the process has not exited.
  bool running() {
    if (exited_) {
      return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  [[nodiscard]] std::string log() const {
    std::string text;
    if (std::FILE* f = std::fopen(log_path_.c_str(), "r")) {
      char buffer[4096];
      std::size_t got = 0;
      while ((got = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
        text.append(buffer, got);
      }
      std::fclose(f);
    }
    return text;
  }

  ~Qemu() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove(log_path_);
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  fs::path log_path_;
};

class Recorder {
 public:
  vt::ServerCallbacks callbacks() {
    return {[this](vt::PeerId id) { push("connected " + std::to_string(id)); },
            [this](vt::PeerId id) { push("disconnected " + std::to_string(id)); },
            [this](vt::PeerId id, std::uint16_t v) { push("signal " + std::to_string(id) + " " + std::to_string(v)); }};
  }
  bool wait_for(const std::string& event, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (*it == event) {
          events_.erase(it);
          return true;
        }
      }
      return false;
    });
  }

 private:
  void push(std::string e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

struct ServerOnThread {
  explicit ServerOnThread(const char* name)
      : path(temp_path(name)), region(vt::SharedRegion::create(layout::kDefaultRegionSize, 0)) {
    fs::remove(path);
    region.reset_for_guest(1);
    vt::ServerOptions options;
    options.socket_path = path;
    options.shm_fd = region.fd();
    server = std::make_unique<vt::IvshmemServer>(options, recorder.callbacks());
    loop = std::thread([this] { server->run(); });
  }
  void stop_and_shutdown() {
    if (loop.joinable()) {
      server->stop();
      loop.join();
      server->shutdown();
    }
  }
  ~ServerOnThread() { stop_and_shutdown(); }

  fs::path path;
  vt::SharedRegion region;
  Recorder recorder;
  std::unique_ptr<vt::IvshmemServer> server;
  std::thread loop;
};

std::vector<std::string> ivshmem_args(const fs::path& socket) {
  return {"-machine", "q35", "-nodefaults", "-display", "none", "-m", "128",
          "-chardev", "socket,path=" + socket.string() + ",id=ivs",
          "-device", "ivshmem-doorbell,chardev=ivs,vectors=2,addr=0x4"};
}

// The qtest protocol: one text command per line, one "OK ..." line back.
class Qtest {
 public:
  Qtest() : path_(temp_path("qtest.sock")), listener_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    fs::remove(path_);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    BOOST_REQUIRE_EQUAL(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    BOOST_REQUIRE_EQUAL(::listen(listener_.get(), 1), 0);
  }
  ~Qtest() { fs::remove(path_); }
  [[nodiscard]] std::string qemu_arg() const { return "unix:" + path_.string(); }

  bool accept(std::chrono::milliseconds timeout) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return false;
    }
    connection_.reset(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return connection_.valid();
  }

  // Sends a command; returns the reply line without "OK", or nullopt.
  std::optional<std::string> command(const std::string& line) {
    auto reply = exchange(line);
    BOOST_TEST_MESSAGE("qtest: " << line << " -> " << (reply ? *reply : std::string("(failed)")));
    return reply;
  }

 private:
  std::optional<std::string> exchange(const std::string& line) {
    const std::string text = line + "\n";
    if (::send(connection_.get(), text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
      return std::nullopt;
    }
    for (;;) {
      const auto end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string reply = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        if (reply.rfind("IRQ", 0) == 0) {
          continue;  // asynchronous interrupt notices, not replies
        }
        if (reply.rfind("OK", 0) != 0) {
          return std::nullopt;
        }
        return reply.size() > 3 ? reply.substr(3) : std::string();
      }
      if (!connection_) {
        return std::nullopt;
      }
      pollfd p{connection_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10000) != 1) {
        return std::nullopt;
      }
      char chunk[256];
      const ssize_t got = ::recv(connection_.get(), chunk, sizeof(chunk), 0);
      if (got <= 0) {
        return std::nullopt;
      }
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  fs::path path_;
  vt::UniqueFd listener_;
  vt::UniqueFd connection_;
  std::string buffer_;
};

std::uint32_t config_address(unsigned device, unsigned reg) {
  return 0x80000000U | (device << 11) | reg;  // bus 0, function 0
}

}  // namespace

BOOST_AUTO_TEST_CASE(qemu_completes_the_handshake_and_keeps_running) {
  ServerOnThread s("handshake.sock");
  auto args = ivshmem_args(s.path);
  args.insert(args.begin(), {"-S", "-accel", "tcg"});
  Qemu qemu(args);
  BOOST_TEST(s.recorder.wait_for("connected 1", 30s), "QEMU log: " << qemu.log());
  // QEMU finished realizing the device (it only then leaves the set-up read)
  // and neither rejected a message nor exited.
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST(qemu.running(), "QEMU log: " << qemu.log());
  BOOST_TEST(qemu.log().find("ivshmem") == std::string::npos, "QEMU log: " << qemu.log());
  BOOST_TEST(s.server->peers() == std::vector<vt::PeerId>{1});

  // A clean shutdown tells QEMU the host left; QEMU must survive it.
  s.stop_and_shutdown();
  std::this_thread::sleep_for(1000ms);
  BOOST_TEST(qemu.running(), "QEMU log: " << qemu.log());
  BOOST_TEST(qemu.log().find("invalid peer") == std::string::npos, "QEMU log: " << qemu.log());
}

BOOST_AUTO_TEST_CASE(doorbell_written_by_the_guest_reaches_the_server) {
  ServerOnThread s("doorbell.sock");
  Qtest qtest;
  auto args = ivshmem_args(s.path);
  // -qtest selects the qtest accelerator by itself (this build rejects "-accel qtest").
  args.insert(args.end(), {"-qtest", qtest.qemu_arg(), "-qtest-log", "/dev/null"});
  Qemu qemu(args);
  BOOST_REQUIRE_MESSAGE(s.recorder.wait_for("connected 1", 30s), "QEMU log: " << qemu.log());
  BOOST_REQUIRE_MESSAGE(qtest.accept(30s), "QEMU log: " << qemu.log());

  constexpr unsigned kDevice = 4;  // addr=0x4 above; a real guest finds it by id
  constexpr std::uint32_t kBar0 = 0xc0000000U;
  auto config_read = [&](unsigned reg) {
    BOOST_REQUIRE(qtest.command(fmt::format("outl 0xcf8 {:#x}", config_address(kDevice, reg))));
    auto value = qtest.command("inl 0xcfc");
    BOOST_REQUIRE(value);
    return static_cast<std::uint32_t>(std::stoul(*value, nullptr, 16));
  };
  auto config_write = [&](unsigned reg, std::uint32_t value) {
    BOOST_REQUIRE(qtest.command(fmt::format("outl 0xcf8 {:#x}", config_address(kDevice, reg))));
    BOOST_REQUIRE(qtest.command(fmt::format("outl 0xcfc {:#x}", value)));
  };
  // QEMU may still be finishing its start-up (the machine reset clears the
  // config registers) when the first qtest commands arrive: program the BAR,
  // then confirm it stuck across a pause before relying on it.
  std::uint32_t vendor_device = 0;
  std::uint32_t position = 0;
  bool programmed = false;
  for (int attempt = 0; attempt < 50 && !programmed; ++attempt) {
    vendor_device = config_read(0x00);
    config_write(0x10, kBar0);   // BAR0: the registers
    config_write(0x04, 0x0006);  // memory space + bus master
    std::this_thread::sleep_for(200ms);
    if (config_read(0x10) != kBar0 || (config_read(0x04) & 0x2U) == 0) {
      continue;
    }
    auto value = qtest.command(fmt::format("readl {:#x}", kBar0 + 8));
    BOOST_REQUIRE(value);
    position = static_cast<std::uint32_t>(std::stoul(*value, nullptr, 16));
    programmed = true;
  }
  BOOST_REQUIRE(programmed);
  BOOST_TEST(vendor_device == 0x11101af4U);  // device 0x1110, vendor 0x1af4
  BOOST_TEST(position == 1U);                // IVPosition = the id the server gave this peer

  const std::uint32_t host = s.server->host_peer_id();
  BOOST_REQUIRE(qtest.command(fmt::format("writel {:#x} {:#x}", kBar0 + 12, (host << 16) | 1U)));
  BOOST_TEST(s.recorder.wait_for("signal 1 1", 10s), "QEMU log: " << qemu.log());
  BOOST_REQUIRE(qtest.command(fmt::format("writel {:#x} {:#x}", kBar0 + 12, (host << 16) | 0U)));
  BOOST_TEST(s.recorder.wait_for("signal 1 0", 10s), "QEMU log: " << qemu.log());
  // A doorbell for a vector the host does not have is ignored by QEMU.
  BOOST_REQUIRE(qtest.command(fmt::format("writel {:#x} {:#x}", kBar0 + 12, (host << 16) | 5U)));
  BOOST_TEST(!s.recorder.wait_for("signal 1 5", 500ms));

  // The host's signal is consumed by QEMU (MSI-X is off here, so QEMU drops it,
  // as the spec warns): QEMU must stay up.
  BOOST_TEST(s.server->signal_guest(1, layout::kVectorControl));
  std::this_thread::sleep_for(300ms);
  BOOST_TEST(qemu.running(), "QEMU log: " << qemu.log());
}

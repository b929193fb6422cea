// vsp-sim: the host-side VMBus VSP simulator daemon. See README.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <string>

#include "vscsim/transport/ivshmem_server.h"
#include "vscsim/transport/layout.h"
#include "vscsim/transport/shared_region.h"

namespace vt = vscsim::transport;
namespace layout = vscsim::transport::layout;

namespace {

// Exit codes: 0 clean shutdown; CLI11's codes for option syntax; these for the rest.
constexpr int kExitBadInput = 2;   // an option's value or a named file is unusable
constexpr int kExitRuntime = 3;    // the server could not start or failed while running

std::atomic<vt::IvshmemServer*> g_server{nullptr};
std::atomic<bool> g_stop_signal{false};

extern "C" void on_stop_signal(int) {
  g_stop_signal.store(true);
  if (vt::IvshmemServer* server = g_server.load()) {
    server->stop();  // async-signal-safe: sets an atomic and writes an eventfd
  }
}

struct Options {
  std::string socket;
  std::string guest_ram;
  std::string log_level = "info";
  std::uint64_t shm_size = layout::kDefaultRegionSize;
  std::string socket_mode;
};

void fail_message(const std::string& message) { std::fprintf(stderr, "vsp-sim: error: %s\n", message.c_str()); }

// Checks the guest RAM file; returns its size or nullopt after printing why.
std::optional<std::uint64_t> check_guest_ram(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail_message(fmt::format("guest RAM file '{}': {}", path, std::strerror(errno)));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    fail_message(fmt::format("guest RAM file '{}' is not a regular file", path));
    return std::nullopt;
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fail_message(fmt::format("guest RAM file '{}' cannot be opened for reading and writing: {}", path,
                             std::strerror(errno)));
    return std::nullopt;
  }
  ::close(fd);
  if (st.st_size <= 0) {
    fail_message(fmt::format("guest RAM file '{}' is empty", path));
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

vt::LogSink make_log_sink(vt::LogLevel threshold) {
  return [threshold](vt::LogLevel level, std::string_view message) {
    if (static_cast<int>(level) <= static_cast<int>(threshold)) {
      std::fprintf(stderr, "vsp-sim: %.*s: %.*s\n", static_cast<int>(vt::to_string(level).size()),
                   vt::to_string(level).data(), static_cast<int>(message.size()), message.data());
    }
  };
}

int serve(const Options& options, vt::LogLevel level, unsigned socket_mode) {
  const vt::LogSink log = make_log_sink(level);
  vt::SharedRegion region = vt::SharedRegion::create(options.shm_size, 0);

  // The mailbox endpoints belong to the current guest session; they are
  // rebuilt whenever a guest peer (re)connects.
  std::optional<vt::MailboxConsumer> from_guest;
  std::optional<vt::MailboxProducer> to_guest;
  std::optional<vt::PeerId> guest;
  bool reported_broken = false;

  vt::ServerOptions server_options;
  server_options.socket_path = options.socket;
  server_options.shm_fd = region.fd();
  server_options.host_peer_id = region.host_peer_id();
  server_options.socket_mode = socket_mode;
  server_options.log = log;

  vt::IvshmemServer* server_ptr = nullptr;
  vt::ServerCallbacks callbacks;
  callbacks.peer_connected = [&](vt::PeerId id) {
    region.reset_for_guest(id);
    from_guest.emplace(region.guest_to_host());
    to_guest.emplace(region.host_to_guest());
    guest = id;
    reported_broken = false;
  };
  callbacks.peer_disconnected = [&](vt::PeerId id) {
    if (guest == id) {
      guest.reset();
      from_guest.reset();
      to_guest.reset();
      region.reset_for_guest(layout::kNoGuest);
    }
  };
  // Drains at most one mailbox's worth per pass; the main loop comes back
  // for the rest without waiting for another doorbell.
  bool drain_pending = false;
  auto drain_guest = [&] {
    drain_pending = false;
    if (!guest || !from_guest) {
      return;
    }
    const vt::PeerId id = *guest;
    auto result = from_guest->drain(layout::kSlotCount, [&](std::span<const std::byte> message) {
      std::uint32_t msgtype = 0;
      std::memcpy(&msgtype, message.data(), sizeof(msgtype));
      log(vt::LogLevel::kDebug, fmt::format("guest {} sent channel message type {} ({} bytes); no channel "
                                            "server yet, dropped", id, msgtype, message.size()));
    });
    if (result.status == vt::MailboxStatus::kBroken && !reported_broken) {
      reported_broken = true;  // once per session: a guest cannot flood the log
      log(vt::LogLevel::kWarn, fmt::format("guest {} broke the guest-to-host mailbox: {}", id,
                                           from_guest->broken_reason()));
    }
    if (result.wake_producer && server_ptr != nullptr) {
      server_ptr->signal_guest(id, layout::kVectorControl);
    }
    drain_pending = result.more_pending;
  };
  callbacks.guest_signal = [&](vt::PeerId id, std::uint16_t vector) {
    if (guest == id && vector == layout::kVectorControl) {
      drain_pending = true;
    }
  };

  vt::IvshmemServer server(server_options, callbacks);
  server_ptr = &server;
  region.set_state(layout::HostState::kRunning);

  g_server.store(&server);

  log(vt::LogLevel::kInfo, "ready");
  auto last_beat = std::chrono::steady_clock::now();
  while (!server.stop_requested() && !g_stop_signal.load()) {
    server.run_once(std::chrono::milliseconds(drain_pending ? 0 : layout::kHeartbeatPeriodMs / 2));
    if (drain_pending) {
      drain_guest();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_beat >= std::chrono::milliseconds(layout::kHeartbeatPeriodMs / 2)) {
      region.beat();
      last_beat = now;
    }
  }
  log(vt::LogLevel::kInfo, "stopping");
  region.set_state(layout::HostState::kStopped);
  server.shutdown();
  g_server.store(nullptr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Installed first, so a signal at any point after start-up ends in a clean
  // shutdown (the loop checks the flag) instead of leaving the socket behind.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  CLI::App app{"vsp-sim: host-side VMBus VSP simulator (ivshmem-doorbell transport, docs/transport.md)"};
  Options options;
  app.add_option("--socket", options.socket, "Unix socket path of the ivshmem server QEMU connects to")
      ->required();
  app.add_option("--guest-ram", options.guest_ram, "Guest RAM file (QEMU memory-backend-file,share=on)")
      ->required();
  const std::map<std::string, vt::LogLevel> levels{{"error", vt::LogLevel::kError},
                                                   {"warn", vt::LogLevel::kWarn},
                                                   {"info", vt::LogLevel::kInfo},
                                                   {"debug", vt::LogLevel::kDebug}};
  app.add_option("--log-level", options.log_level, "error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  app.add_option("--shm-size", options.shm_size, "BAR2 size in bytes: a power of two, 65536..16777216")
      ->capture_default_str();
  app.add_option("--socket-mode", options.socket_mode, "Octal permissions for the socket, e.g. 0660");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  unsigned socket_mode = 0;
  if (!options.socket_mode.empty()) {
    char* end = nullptr;
    const unsigned long mode = std::strtoul(options.socket_mode.c_str(), &end, 8);
    if (*end != '\0' || mode == 0 || mode > 0777) {
      fail_message(fmt::format("--socket-mode '{}' is not an octal mode between 1 and 0777", options.socket_mode));
      return kExitBadInput;
    }
    socket_mode = static_cast<unsigned>(mode);
  }
  if (options.shm_size < layout::kMinRegionSize || options.shm_size > layout::kMaxRegionSize ||
      (options.shm_size & (options.shm_size - 1)) != 0) {
    fail_message(fmt::format("--shm-size {} must be a power of two between {} and {}", options.shm_size,
                             layout::kMinRegionSize, layout::kMaxRegionSize));
    return kExitBadInput;
  }
  const auto ram_size = check_guest_ram(options.guest_ram);
  if (!ram_size) {
    return kExitBadInput;
  }
  const vt::LogLevel level = levels.at(options.log_level);
  make_log_sink(level)(vt::LogLevel::kInfo,
                       fmt::format("guest RAM file '{}': {} bytes ({} MiB)", options.guest_ram, *ram_size,
                                   *ram_size >> 20));
  try {
    return serve(options, level, socket_mode);
  } catch (const std::exception& e) {
    fail_message(e.what());
    return kExitRuntime;
  }
}

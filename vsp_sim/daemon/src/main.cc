// vsp-sim: the host-side VMBus VSP simulator daemon. See README.md.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <map>
#include <stdexcept>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vscsim/base/log.h"
#include "vscsim/devices/blob.h"
#include "vscsim/host/control_socket.h"
#include "vscsim/host/host.h"
#include "vscsim/http/blob_http_server.h"
#include "vscsim/memory/qemu_ram_file.h"
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
  bool guest_ram_from_peer = false;  // find it in the connected QEMU's maps
  std::string log_level = "info";
  std::uint64_t shm_size = layout::kDefaultRegionSize;
  std::string socket_mode;
  std::vector<std::string> devices;
  std::string control;
  vscsim::host::DeviceOptions device_options;
  std::uint32_t blob_delay_ms = 0;
  std::string http_listen;     // HOST:PORT, empty: no HTTP server
  std::string http_port_file;  // where to write the bound port
  std::optional<vscsim::http::ListenAddress> http_address;  // http_listen, parsed
};

void fail_message(const std::string& message) { std::fprintf(stderr, "vsp-sim: error: %s\n", message.c_str()); }

// Looks at the guest RAM path at start-up. The file is opened and mapped
// only when a guest connects (it may be a memfd that exists only from just
// before QEMU starts), so a missing or still empty file is fine now; a path
// that names something other than a regular file can never become valid.
// Returns false after printing why.
bool check_guest_ram(const std::string& path, const vt::LogSink& log) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      fail_message(fmt::format("guest RAM file '{}': {}", path, std::strerror(errno)));
      return false;
    }
    log(vt::LogLevel::kInfo, fmt::format("guest RAM file '{}' does not exist yet; it is opened when "
                                         "the guest connects", path));
    return true;
  }
  if (!S_ISREG(st.st_mode)) {
    fail_message(fmt::format("guest RAM file '{}' is not a regular file", path));
    return false;
  }
  log(vt::LogLevel::kInfo, fmt::format("guest RAM file '{}': {} bytes ({} MiB) now; mapped when the "
                                       "guest connects", path, st.st_size, st.st_size >> 20));
  return true;
}

vt::LogSink make_log_sink(vt::LogLevel threshold) {
  return [threshold](vt::LogLevel level, std::string_view message) {
    if (static_cast<int>(level) <= static_cast<int>(threshold)) {
      std::fprintf(stderr, "vsp-sim: %.*s: %.*s\n", static_cast<int>(vt::to_string(level).size()),
                   vt::to_string(level).data(), static_cast<int>(message.size()), message.data());
    }
  };
}

// Routes the libraries' log (vscsim::log, used by the server, rings, devices
// and host) into the daemon's sink.
void route_library_log(const vt::LogSink& sink) {
  vscsim::log::set_sink([sink](vscsim::log::Level level, std::string_view text) {
    vt::LogLevel l = vt::LogLevel::kInfo;
    switch (level) {
      case vscsim::log::Level::kDebug: l = vt::LogLevel::kDebug; break;
      case vscsim::log::Level::kInfo: l = vt::LogLevel::kInfo; break;
      case vscsim::log::Level::kWarning: l = vt::LogLevel::kWarn; break;
      case vscsim::log::Level::kError: l = vt::LogLevel::kError; break;
    }
    sink(l, text);
  });
}

// How long the loop may sleep: the poll period, shorter if the host has work
// left or a model's timer falls due sooner (in microseconds: a flood looks
// for ring room every 100 us).
std::chrono::microseconds loop_timeout(const vscsim::host::Host& host,
                                       std::chrono::milliseconds period) {
  if (host.busy()) return std::chrono::microseconds(0);
  const auto deadline = host.next_deadline();
  if (!deadline) return period;
  const auto left = std::chrono::ceil<std::chrono::microseconds>(
      *deadline - vscsim::devices::DeviceClock::now());
  return std::clamp<std::chrono::microseconds>(left, std::chrono::microseconds(0), period);
}

// The store of the first blob device, which --http-listen serves: the same
// object the device reads and writes for the guest's VMBus requests.
vscsim::blobstore::Store* first_blob_store(const vscsim::host::Host& host) {
  for (const auto& device : host.devices()) {
    if (auto* blob = dynamic_cast<vscsim::devices::Blob*>(device.get())) return &blob->store();
  }
  return nullptr;
}

// Writes "<port>\n" to `path` so that it appears whole or not at all (a
// reader polling for the file never sees it half written): a temp file
// beside it, renamed over it.
bool write_port_file(const std::string& path, std::uint16_t port) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const std::string text = std::to_string(port) + "\n";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail_message(fmt::format("--http-port-file: cannot create '{}': {}", temp, std::strerror(errno)));
    return false;
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed || ::rename(temp.c_str(), path.c_str()) != 0) {
    fail_message(fmt::format("--http-port-file: cannot write '{}': {}", path,
                             std::strerror(written ? errno : write_errno)));
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

// With the HTTP server, the loop waits on the ivshmem server's epoll set and
// the HTTP sockets together (ppoll: microsecond timeouts), so neither path's
// requests wait for the other's poll period.
void wait_for_events(const vt::IvshmemServer& server, const vscsim::http::BlobHttpServer& http,
                     std::chrono::microseconds timeout, std::vector<pollfd>& fds) {
  fds.clear();
  fds.push_back(pollfd{server.wait_fd(), POLLIN, 0});
  http.poll_fds(fds);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec wait{static_cast<time_t>(seconds.count()),
                      static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  ::ppoll(fds.data(), fds.size(), &wait, nullptr);  // EINTR (a stop signal) only ends the wait
}

int serve(const Options& options, std::vector<std::unique_ptr<vscsim::devices::Device>> devices,
          vt::LogLevel level, unsigned socket_mode) {
  const vt::LogSink log = make_log_sink(level);
  route_library_log(log);
  vt::SharedRegion region = vt::SharedRegion::create(options.shm_size, 0);

  std::optional<vt::PeerId> guest;
  vt::IvshmemServer* server_ptr = nullptr;
  vscsim::host::Host::GuestRamLocator locate_ram =
      [&]() -> vscsim::Result<std::string, std::string> { return options.guest_ram; };
  if (options.guest_ram_from_peer) {
    locate_ram = [&]() -> vscsim::Result<std::string, std::string> {
      const auto pid = guest && server_ptr ? server_ptr->peer_pid(*guest) : std::nullopt;
      if (!pid) return vscsim::Err(std::string("--guest-ram-from-peer: the guest's QEMU process is not known"));
      return vscsim::memory::find_qemu_ram_file(*pid);
    };
  }
  vscsim::host::Host host(std::move(locate_ram), std::move(devices));

  std::unique_ptr<vscsim::http::BlobHttpServer> http;
  if (options.http_address) {
    vscsim::blobstore::Store* store = first_blob_store(host);
    if (store == nullptr) throw std::logic_error("--http-listen without a blob device passed the option checks");
    auto listening = vscsim::http::BlobHttpServer::listen(*store, {.address = *options.http_address});
    if (!listening.ok()) {
      fail_message(fmt::format("--http-listen {}: {}", options.http_listen, listening.error()));
      return kExitRuntime;
    }
    http = std::move(listening).value();
  }

  vt::ServerOptions server_options;
  server_options.socket_path = options.socket;
  server_options.shm_fd = region.fd();
  server_options.host_peer_id = region.host_peer_id();
  server_options.socket_mode = socket_mode;
  server_options.log = log;

  vt::ServerCallbacks callbacks;
  callbacks.peer_connected = [&](vt::PeerId id) {
    region.reset_for_guest(id);
    guest = id;
    auto started = host.guest_connected(vscsim::host::Bar2::of(region), [&server_ptr, id](std::uint16_t v) {
      if (server_ptr != nullptr) server_ptr->signal_guest(id, v);
    });
    if (!started.ok()) {
      // Pending, not lost: Host retries at each of its signals.
      log(vt::LogLevel::kInfo, fmt::format("guest {} connected; its RAM is not mapped yet ({}); trying again "
                                           "when it signals", id, started.error()));
    } else {
      log(vt::LogLevel::kInfo, fmt::format("guest {} connected", id));
    }
  };
  callbacks.peer_disconnected = [&](vt::PeerId id) {
    if (guest == id) {
      guest.reset();
      host.guest_disconnected();
      region.reset_for_guest(layout::kNoGuest);
      log(vt::LogLevel::kInfo, fmt::format("guest {} disconnected", id));
    }
  };
  // Signals are recorded during run_once and handled after it, outside the
  // server's callbacks.
  callbacks.guest_signal = [&](vt::PeerId id, std::uint16_t vector) {
    if (guest == id) host.on_guest_signal(vector);
  };

  vt::IvshmemServer server(server_options, callbacks);
  server_ptr = &server;
  std::optional<vscsim::host::ControlSocket> control;
  if (!options.control.empty()) {
    control.emplace(
        options.control, [&](std::string_view line) { return host.command(line); },
        [&](const vscsim::control::Request& request) { return host.execute(request); });
  }
  region.set_state(layout::HostState::kRunning);
  // Written last, so a reader that sees the port finds every socket ready.
  if (http && !options.http_port_file.empty() && !write_port_file(options.http_port_file, http->port())) {
    return kExitRuntime;
  }

  g_server.store(&server);

  log(vt::LogLevel::kInfo,
      fmt::format("ready: {} device(s){}{}", options.devices.size(),
                  control ? ", control socket " + options.control : "",
                  http ? fmt::format(", blob HTTP server on {}:{} (the first blob device's store)",
                                     options.http_address->ipv6 ? "[" + options.http_address->host + "]"
                                                                : options.http_address->host,
                                     http->port())
                       : std::string()));
  // The loop wakes for the ivshmem server's events; the control socket and the
  // heartbeat are polled every 10 ms, so a command waits at most that long;
  // a model's timer (a delayed completion) wakes it when it falls due.
  constexpr auto kPollPeriod = std::chrono::milliseconds(10);
  auto last_beat = std::chrono::steady_clock::now();
  std::vector<pollfd> wait_fds;
  while (!server.stop_requested() && !g_stop_signal.load()) {
    const auto timeout = loop_timeout(host, kPollPeriod);
    if (http) {
      wait_for_events(server, *http, http->busy() ? std::chrono::microseconds(0) : timeout, wait_fds);
      server.run_once(std::chrono::milliseconds(0));
      http->poll();
    } else if (timeout < std::chrono::milliseconds(1)) {
      // epoll_wait counts whole ms: a shorter wait sleeps first, then takes
      // what came meanwhile without waiting.
      if (timeout.count() > 0) std::this_thread::sleep_for(timeout);
      server.run_once(std::chrono::milliseconds(0));
    } else {
      server.run_once(std::chrono::ceil<std::chrono::milliseconds>(timeout));
    }
    host.poll();
    if (control) control->poll();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_beat >= std::chrono::milliseconds(layout::kHeartbeatPeriodMs / 2)) {
      region.beat();
      last_beat = now;
    }
  }
  log(vt::LogLevel::kInfo, "stopping");
  region.set_state(layout::HostState::kStopped);
  host.guest_disconnected();
  control.reset();
  http.reset();
  server.shutdown();
  g_server.store(nullptr);
  vscsim::log::set_sink({});
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
  auto* ram_option =
      app.add_option("--guest-ram", options.guest_ram,
                     "Guest RAM file (QEMU memory-backend-file,share=on), e.g. /proc/<pid>/fd/<n> for a memfd. "
                     "Opened and mapped when the guest connects (again at each guest signal until it works), "
                     "not at start: it may not exist yet");
  auto* from_peer_option =
      app.add_flag("--guest-ram-from-peer", options.guest_ram_from_peer,
                   "Instead of --guest-ram: map the largest shared file mapping of the QEMU process that "
                   "connects (its guest RAM), for a QEMU started by libvirt or Vagrant whose RAM file path "
                   "is chosen by libvirt. Needs root (reads /proc/<pid>/maps and map_files)");
  ram_option->excludes(from_peer_option);
  from_peer_option->excludes(ram_option);
  app.add_option("--device", options.devices, "Offer this device to the guest (repeatable, relids 1, 2, ... "
                 "in order): keyboard (the Hyper-V synthetic keyboard), blob (the Azure Blob fast-path "
                 "device, backed by a blob store) or blob-vpci (the Azure Blob device's companion "
                 "virtual-PCI channel, offered only: a guest should never open it)")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(vscsim::host::kDeviceKinds),
                                                     std::end(vscsim::host::kDeviceKinds))));
  app.add_option("--blob-dir", options.device_options.blob_dir,
                 "Keep each blob device's blobs in DIR/<instance GUID>/ (created if missing; survives "
                 "restarts). Default: in memory");
  app.add_option("--blob-capacity", options.device_options.blob_capacity,
                 "Bytes of blob data each blob device may hold; a put beyond is NO_SPACE")
      ->capture_default_str();
  app.add_option("--blob-delay-ms", options.blob_delay_ms,
                 "Blob devices complete each request this many ms late (a request whose timeout is "
                 "shorter fails at its timeout with wire status 2); blob-delay on the control socket "
                 "changes it")
      ->capture_default_str();
  app.add_option("--control", options.control,
                 "Unix socket for one-line text commands (state, rescind <relid>, reoffer <relid>, "
                 "fail-open <relid>, key <scancode> [down|up|press], blob-delay <relid> <ms>, "
                 "blob-inject <relid> <id>, blob-drop <relid> <count> [<after>], trace-dump <path>, "
                 "trace-clear, help); one line answered per command. The line 'proto 1' switches a "
                 "connection to control.proto frames (4-byte little-endian length, then the message)");
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
  app.add_option("--http-listen", options.http_listen,
                 "Also serve the first blob device's store over plain HTTP/1.1 on HOST:PORT (HOST a loopback "
                 "address: 127.0.0.1, localhost or [::1]; PORT 0 picks a free port): the network path "
                 "benchmarks compare with VMBus (vsp_sim/http/README.md). Needs --device blob");
  app.add_option("--http-port-file", options.http_port_file,
                 "Once every socket listens, write the HTTP server's port and a newline to PATH (a temp "
                 "file renamed over it, so it appears whole)");
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
  if (options.device_options.blob_capacity == 0) {
    fail_message("--blob-capacity must be at least 1 byte");
    return kExitBadInput;
  }
  if (!options.http_port_file.empty() && options.http_listen.empty()) {
    fail_message("--http-port-file needs --http-listen");
    return kExitBadInput;
  }
  if (!options.http_listen.empty()) {
    auto address = vscsim::http::parse_listen_address(options.http_listen);
    if (!address.ok()) {
      fail_message("--http-listen " + address.error());
      return kExitBadInput;
    }
    if (std::find(options.devices.begin(), options.devices.end(), "blob") == options.devices.end()) {
      fail_message("--http-listen serves the store of a blob device; add --device blob");
      return kExitBadInput;
    }
    options.http_address = std::move(address).value();
  }
  options.device_options.blob_delay = std::chrono::milliseconds(options.blob_delay_ms);
  const vt::LogLevel level = levels.at(options.log_level);
  if (options.guest_ram.empty() && !options.guest_ram_from_peer) {
    fail_message("one of --guest-ram FILE and --guest-ram-from-peer is required");
    return kExitBadInput;
  }
  if (!options.guest_ram_from_peer && !check_guest_ram(options.guest_ram, make_log_sink(level))) {
    return kExitBadInput;
  }
  // Made before serving, so an unusable --blob-dir is reported at start.
  auto devices = vscsim::host::make_devices(options.devices, options.device_options);
  if (!devices.ok()) {
    fail_message(devices.error());
    return kExitBadInput;
  }
  try {
    return serve(options, std::move(devices).value(), level, socket_mode);
  } catch (const std::exception& e) {
    fail_message(e.what());
    return kExitRuntime;
  }
}

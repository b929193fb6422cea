// Runs the built vsp-sim binary as a user would.
#define BOOST_TEST_MODULE daemon
#include <boost/test/unit_test.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "src/control_client_test_util.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Child {
  pid_t pid = -1;
  int output = -1;  // stdout and stderr, merged
};

Child spawn(const std::vector<std::string>& args) {
  int pipe_fds[2];
  BOOST_REQUIRE_EQUAL(::pipe2(pipe_fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> argv;
  std::string binary = VSP_SIM_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  Child child;
  BOOST_REQUIRE_EQUAL(posix_spawn(&child.pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  child.output = pipe_fds[0];
  return child;
}

// Waits for exit (killing the child after `timeout`); returns the exit status
// as from waitpid and appends the output to `text`.
int finish(Child& child, std::string& text, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    pollfd p{child.output, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(child.pid, SIGKILL);
      break;
    }
    if (::poll(&p, 1, static_cast<int>(left.count())) == 1) {
      const ssize_t got = ::read(child.output, buffer, sizeof(buffer));
      if (got <= 0) {
        break;  // EOF: the child closed its output (exited)
      }
      text.append(buffer, static_cast<std::size_t>(got));
    }
  }
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.output);
  child.pid = -1;
  return status;
}

struct Run {
  int status;
  std::string output;
  [[nodiscard]] bool exited_with(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  [[nodiscard]] bool failed() const { return WIFEXITED(status) && WEXITSTATUS(status) != 0; }
};

Run run(const std::vector<std::string>& args) {
  Child child = spawn(args);
  Run result{0, {}};
  result.status = finish(child, result.output);
  return result;
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("vscsim-daemon-" + std::to_string(::getpid()) + "-" + name);
}

struct RamFile {
  fs::path path = temp_path("ram");
  RamFile() {
    std::ofstream(path).close();
    fs::resize_file(path, 1 << 20);
  }
  ~RamFile() { fs::remove(path); }
};

bool wait_for(const auto& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// Connects like QEMU and reads the first message: the protocol version.
bool server_answers_with_version_zero(const fs::path& socket_path) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  bool ok = false;
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    pollfd p{s, POLLIN, 0};
    unsigned char bytes[8] = {1};
    ok = ::poll(&p, 1, 5000) == 1 && ::recv(s, bytes, sizeof(bytes), MSG_WAITALL) == 8 &&
         std::all_of(bytes, bytes + 8, [](unsigned char b) { return b == 0; });
  }
  ::close(s);
  return ok;
}

void check_clean_stop_on(int signal_number) {
  RamFile ram;
  const fs::path socket_path = temp_path("sock-" + std::to_string(signal_number));
  fs::remove(socket_path);
  Child child = spawn({"--socket", socket_path.string(), "--guest-ram", ram.path.string()});
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return fs::exists(socket_path); }, 10s), "socket never appeared");
  BOOST_TEST(server_answers_with_version_zero(socket_path));
  BOOST_REQUIRE_EQUAL(::kill(child.pid, signal_number), 0);
  std::string output;
  const int status = finish(child, output);
  BOOST_TEST_INFO("output: " << output);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  BOOST_TEST(!fs::exists(socket_path));
  BOOST_TEST(output.find("1048576 bytes") != std::string::npos);  // the RAM size is reported
}

}  // namespace

BOOST_AUTO_TEST_CASE(help_lists_the_options_and_exits_zero) {
  Run r = run({"--help"});
  BOOST_TEST(r.exited_with(0));
  for (const char* option : {"--socket", "--guest-ram", "--log-level", "--shm-size", "--device", "--control",
                             "when the guest connects", "--blob-dir", "--blob-capacity", "--blob-delay-ms",
                             "blob-delay <relid> <ms>"}) {
    BOOST_TEST(r.output.find(option) != std::string::npos, option);
  }
}

// Guest RAM is mapped when the guest connects (a launcher's memfd may only
// exist from just before QEMU starts), so a missing or empty file is accepted
// at start and reported as such; a directory never becomes a RAM file.
BOOST_AUTO_TEST_CASE(missing_or_empty_guest_ram_waits_for_the_guest_but_a_directory_is_refused) {
  Run dir = run({"--socket", temp_path("s").string(), "--guest-ram", fs::temp_directory_path().string()});
  BOOST_TEST(dir.failed());
  BOOST_TEST(dir.output.find("not a regular file") != std::string::npos, dir.output);

  const fs::path missing = temp_path("no-such-ram");
  const fs::path socket_path = temp_path("sock-missing");
  fs::remove(socket_path);
  Child child = spawn({"--socket", socket_path.string(), "--guest-ram", missing.string()});
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return fs::exists(socket_path); }, 10s), "socket never appeared");
  ::kill(child.pid, SIGTERM);
  std::string output;
  const int status = finish(child, output);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), output);
  BOOST_TEST(output.find("does not exist yet") != std::string::npos, output);
}

BOOST_AUTO_TEST_CASE(required_options_and_bad_values_are_reported) {
  RamFile ram;
  Run no_socket = run({"--guest-ram", ram.path.string()});
  BOOST_TEST(no_socket.failed());
  BOOST_TEST(no_socket.output.find("--socket") != std::string::npos, no_socket.output);

  // Exactly one way to find guest RAM.
  Run no_ram = run({"--socket", temp_path("s").string()});
  BOOST_TEST(no_ram.failed());
  BOOST_TEST(no_ram.output.find("--guest-ram-from-peer") != std::string::npos, no_ram.output);
  Run both = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--guest-ram-from-peer"});
  BOOST_TEST(both.failed());
  BOOST_TEST(both.output.find("excludes") != std::string::npos, both.output);

  Run level = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--log-level", "loud"});
  BOOST_TEST(level.failed());
  BOOST_TEST(level.output.find("loud") != std::string::npos, level.output);

  Run size = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--shm-size", "100000"});
  BOOST_TEST(size.failed());
  BOOST_TEST(size.output.find("power of two") != std::string::npos, size.output);

  Run mode = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--socket-mode", "999"});
  BOOST_TEST(mode.failed());
  BOOST_TEST(mode.output.find("octal") != std::string::npos, mode.output);
}

BOOST_AUTO_TEST_CASE(a_socket_path_that_is_a_regular_file_is_refused_and_kept) {
  RamFile ram;
  Run r = run({"--socket", ram.path.string(), "--guest-ram", ram.path.string()});
  BOOST_TEST(r.failed());
  BOOST_TEST(r.output.find("not a socket") != std::string::npos, r.output);
  BOOST_TEST(fs::is_regular_file(ram.path));
}

namespace {
std::string ask(const fs::path& control, const std::string& line) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, control.c_str(), sizeof(address.sun_path) - 1);
  std::string answer;
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string out = line + "\n";
    if (::send(s, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size())) {
      char c = 0;
      pollfd p{s, POLLIN, 0};
      while (::poll(&p, 1, 5000) == 1 && ::recv(s, &c, 1, 0) == 1 && c != '\n') answer += c;
    }
  }
  ::close(s);
  return answer;
}
}  // namespace

// The control socket answers one line per command, before any guest exists.
BOOST_AUTO_TEST_CASE(control_socket_answers_state_and_rejects_bad_commands) {
  RamFile ram;
  const fs::path socket_path = temp_path("sock-ctl");
  const fs::path control = temp_path("ctl");
  fs::remove(socket_path);
  fs::remove(control);
  Child child = spawn({"--socket", socket_path.string(), "--guest-ram", ram.path.string(), "--device",
                       "keyboard", "--control", control.string()});
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return fs::exists(control); }, 10s), "control socket never appeared");
  const std::string state = ask(control, "state");
  BOOST_TEST(state.rfind("ok session=none", 0) == 0, state);
  BOOST_TEST(state.find("kind=keyboard state=closed") != std::string::npos, state);
  BOOST_TEST(ask(control, "rescind 1").rfind("error no guest", 0) == 0);
  BOOST_TEST(ask(control, "fail-open 1").rfind("ok", 0) == 0);
  BOOST_TEST(ask(control, "key 0x1e").rfind("error keyboard is closed", 0) == 0);
  BOOST_TEST(ask(control, "frobnicate").rfind("error unknown command", 0) == 0);
  BOOST_TEST(ask(control, "rescind x").rfind("error", 0) == 0);
  ::kill(child.pid, SIGTERM);
  std::string output;
  const int status = finish(child, output);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), output);
  BOOST_TEST(!fs::exists(control));
  BOOST_TEST(!fs::exists(socket_path));
}

BOOST_AUTO_TEST_CASE(sigterm_stops_cleanly_and_leaves_no_socket) { check_clean_stop_on(SIGTERM); }

BOOST_AUTO_TEST_CASE(sigint_stops_cleanly_and_leaves_no_socket) { check_clean_stop_on(SIGINT); }

namespace {
// vsp-sim with a control socket, stopped (SIGTERM) and checked at scope exit.
struct Daemon {
  explicit Daemon(const std::string& name, std::vector<std::string> extra) {
    socket_path = temp_path("sock-" + name);
    control = temp_path("ctl-" + name);
    fs::remove(socket_path);
    fs::remove(control);
    std::vector<std::string> args{"--socket", socket_path.string(), "--guest-ram", ram.path.string(),
                                  "--control", control.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    child = spawn(args);
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return fs::exists(control); }, 10s), "control socket never appeared");
  }
  ~Daemon() {
    ::kill(child.pid, SIGTERM);
    std::string output;
    const int status = finish(child, output);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), output);
  }
  RamFile ram;
  fs::path socket_path;
  fs::path control;
  Child child;
};

constexpr const char* kBlobInstance = "9f3f5b1e-4b6c-4f3e-8d2a-6b1c0b10b000";
}  // namespace

// blob-vpci is offered only; blob is the Azure Blob device: both show in state.
BOOST_AUTO_TEST_CASE(blob_vpci_and_blob_devices_are_offered_and_described) {
  Daemon d("blob", {"--device", "blob-vpci", "--device", "blob", "--device", "keyboard"});
  const std::string state = ask(d.control, "state");
  BOOST_TEST(state.find("relid=none channel=none kind=blob-vpci opens=0 packets=0") != std::string::npos, state);
  BOOST_TEST(state.find("kind=blob state=closed delay_ms=0 requests=0 completions=0 pending=0") != std::string::npos,
             state);
  BOOST_TEST(state.find("kind=keyboard") != std::string::npos, state);
  BOOST_TEST(ask(d.control, "blob-delay 2 40") == "ok");
  BOOST_TEST(ask(d.control, "state").find("kind=blob state=closed delay_ms=40") != std::string::npos);
  BOOST_TEST(ask(d.control, "blob-delay 1 40").rfind("error relid 1 is not a blob device", 0) == 0);
  BOOST_TEST(ask(d.control, "help").find("blob-delay") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(blob_options_choose_store_capacity_and_delay) {
  const fs::path dir = temp_path("blob-dir");
  fs::remove_all(dir);
  {
    Daemon d("blob-opts", {"--device", "blob", "--blob-dir", dir.string(), "--blob-capacity", "4096",
                           "--blob-delay-ms", "25"});
    BOOST_TEST(fs::exists(dir / kBlobInstance / "VSCSIM-BLOBSTORE"));
    BOOST_TEST(ask(d.control, "state").find("kind=blob state=closed delay_ms=25") != std::string::npos);
    // The store is locked while this simulator runs: a second one is refused.
    Run second = run({"--socket", temp_path("s2").string(), "--guest-ram", d.ram.path.string(), "--device", "blob",
                      "--blob-dir", dir.string()});
    BOOST_TEST(second.exited_with(2), second.output);
    BOOST_TEST(second.output.find("in use") != std::string::npos, second.output);
  }
  fs::remove_all(dir);

  RamFile ram;
  Run zero = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--device", "blob",
                  "--blob-capacity", "0"});
  BOOST_TEST(zero.exited_with(2), zero.output);
  BOOST_TEST(zero.output.find("--blob-capacity") != std::string::npos, zero.output);
  // A regular file cannot hold a store.
  Run file = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--device", "blob",
                  "--blob-dir", ram.path.string()});
  BOOST_TEST(file.exited_with(2), file.output);
  BOOST_TEST(file.output.find("blob store") != std::string::npos, file.output);
  Run unknown = run({"--socket", temp_path("s").string(), "--guest-ram", ram.path.string(), "--device", "mouse"});
  BOOST_TEST(unknown.failed());
  BOOST_TEST(unknown.output.find("mouse") != std::string::npos, unknown.output);
}

// The same control socket in protobuf: "proto 1", then frames.
BOOST_AUTO_TEST_CASE(control_socket_speaks_protobuf_after_proto_1) {
  Daemon d("proto", {"--device", "keyboard", "--device", "blob"});
  vscsim::host::testing::ControlClient c(d.control);
  BOOST_REQUIRE(c.switch_to_proto());
  vscsim::control::Request state;
  state.set_id(1);
  state.mutable_state();
  const auto st = c.call(state);
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(st->id() == 1u);
  BOOST_TEST(st->ok());
  BOOST_TEST(!st->state().session_up());
  BOOST_REQUIRE_EQUAL(st->state().channel_size(), 2);
  BOOST_TEST(st->state().channel(0).kind() == "keyboard");
  BOOST_TEST(st->state().channel(1).kind() == "blob");

  vscsim::control::Request drop;
  drop.set_id(2);
  drop.mutable_blob_drop()->set_relid(2);
  drop.mutable_blob_drop()->set_count(3);
  drop.mutable_blob_drop()->set_after(1);
  const auto dropped = c.call(drop);
  BOOST_REQUIRE(dropped.has_value());
  BOOST_TEST(dropped->id() == 2u);
  BOOST_TEST(dropped->ok(), dropped->error());
  drop.set_id(3);
  drop.mutable_blob_drop()->set_relid(1);
  const auto refused = c.call(drop);
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(!refused->ok());
  BOOST_TEST(refused->error() == "relid 1 is not a blob device");
  state.set_id(4);
  const auto after = c.call(state);
  BOOST_REQUIRE(after.has_value());
  BOOST_TEST(after->state().channel(1).model().find(" drop=3 after=1") != std::string::npos,
             after->state().channel(1).model());
  // The text spelling sees the same device.
  BOOST_TEST(ask(d.control, "state").find(" drop=3 after=1") != std::string::npos);
}

namespace {
// One request on a fresh loopback connection that asks to be closed after
// the answer; returns everything the server sent (empty if it refused).
std::string http_once(std::uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body = {}) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::send(s, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char chunk[4096];
      pollfd p{s, POLLIN, 0};
      ssize_t got = 0;
      while (::poll(&p, 1, 5000) == 1 && (got = ::recv(s, chunk, sizeof chunk, 0)) > 0) {
        answer.append(chunk, static_cast<std::size_t>(got));
      }
    }
  }
  ::close(s);
  return answer;
}
}  // namespace

// --http-listen serves the first blob device's store: what goes in over HTTP
// is in the device's store (blob-reset empties both at once).
BOOST_AUTO_TEST_CASE(http_listen_serves_the_blob_devices_store_over_loopback) {
  const fs::path port_file = temp_path("http-port");
  fs::remove(port_file);
  Daemon d("http", {"--device", "keyboard", "--device", "blob", "--http-listen", "127.0.0.1:0",
                    "--http-port-file", port_file.string()});
  BOOST_REQUIRE_MESSAGE(wait_for([&] { return fs::exists(port_file); }, 10s), "port file never appeared");
  std::string port_text;
  std::getline(std::ifstream(port_file), port_text);
  const int port = std::stoi(port_text);
  BOOST_TEST_REQUIRE((port > 0 && port < 65536));
  const auto p = static_cast<std::uint16_t>(port);
  BOOST_TEST(http_once(p, "PUT", "/bucket").rfind("HTTP/1.1 201 Created\r\n", 0) == 0);
  const std::string put = http_once(p, "PUT", "/bucket/dir/a.txt", "hello over http");
  BOOST_TEST(put.rfind("HTTP/1.1 201 Created\r\n", 0) == 0, put);
  BOOST_TEST(put.find("x-generation: 1\r\n") != std::string::npos, put);
  const std::string get = http_once(p, "GET", "/bucket/dir/a.txt");
  BOOST_TEST(get.rfind("HTTP/1.1 200 OK\r\n", 0) == 0, get);
  BOOST_TEST(get.find("\r\n\r\nhello over http") == get.size() - 19, get);
  BOOST_TEST(ask(d.control, "blob-reset 2") == "ok");
  BOOST_TEST(http_once(p, "GET", "/bucket/dir/a.txt").rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  fs::remove(port_file);
}

BOOST_AUTO_TEST_CASE(http_options_are_checked) {
  RamFile ram;
  const std::vector<std::string> base{"--socket", temp_path("s").string(), "--guest-ram", ram.path.string()};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  Run no_blob = with({"--device", "keyboard", "--http-listen", "127.0.0.1:0"});
  BOOST_TEST(no_blob.exited_with(2), no_blob.output);
  BOOST_TEST(no_blob.output.find("--device blob") != std::string::npos, no_blob.output);
  Run wide = with({"--device", "blob", "--http-listen", "0.0.0.0:0"});
  BOOST_TEST(wide.exited_with(2), wide.output);
  BOOST_TEST(wide.output.find("not a loopback address") != std::string::npos, wide.output);
  Run bad_port = with({"--device", "blob", "--http-listen", "127.0.0.1:http"});
  BOOST_TEST(bad_port.exited_with(2), bad_port.output);
  Run file_alone = with({"--device", "blob", "--http-port-file", temp_path("pf").string()});
  BOOST_TEST(file_alone.exited_with(2), file_alone.output);
  BOOST_TEST(file_alone.output.find("--http-port-file needs --http-listen") != std::string::npos, file_alone.output);

  // A port already taken: the listener fails at start, and says where.
  const int taken = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  BOOST_REQUIRE_EQUAL(::listen(taken, 1), 0);
  socklen_t length = sizeof address;
  BOOST_REQUIRE_EQUAL(::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const fs::path socket_path = temp_path("sock-taken");
  fs::remove(socket_path);
  Run busy = run({"--socket", socket_path.string(), "--guest-ram", ram.path.string(), "--device", "blob",
                  "--http-listen", "127.0.0.1:" + std::to_string(ntohs(address.sin_port))});
  ::close(taken);
  BOOST_TEST(busy.exited_with(3), busy.output);
  BOOST_TEST(busy.output.find("bind 127.0.0.1:") != std::string::npos, busy.output);
  BOOST_TEST(!fs::exists(socket_path));
}

// The agent's router and workers on this host: the router serves one end of
// a socketpair in a thread of the test, AgentClient (or raw frames) the other.
// Workers are real processes forked from the test; Spawn needs root.
#define BOOST_TEST_MODULE agent_dispatcher
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "router.h"
#include "vscsim/agent/client.h"
#include "vscsim/agent/framing.h"

namespace {
#if defined(__SANITIZE_THREAD__)
// TSan cannot follow a process forked from a process with threads that then
// starts threads of its own ("dup thread with used id"), which is every
// worker: the cases that run operations are left to the other builds.
constexpr bool kWorkersCanRun = false;
#else
constexpr bool kWorkersCanRun = true;
#endif
}  // namespace

using namespace vscsim::agent;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr auto kOpTimeout = 20s;

Run on(const std::string& process, const std::string& thread, Op op) {
  Run run;
  run.set_process(process);
  run.set_thread(thread);
  *run.mutable_op() = std::move(op);
  return run;
}

Op open_op(const std::string& path, const std::string& slot, std::uint32_t flags = 0) {
  Op op;
  op.mutable_open()->set_path(path);
  op.mutable_open()->set_slot(slot);
  op.mutable_open()->set_flags(flags);
  return op;
}

Op read_op(const std::string& path, std::uint32_t max = 0) {
  Op op;
  op.mutable_read_file()->set_path(path);
  op.mutable_read_file()->set_max_bytes(max);
  return op;
}

Op sleep_op(std::uint32_t ms) {
  Op op;
  op.mutable_sleep()->set_ms(ms);
  return op;
}

Op fork_op(const std::string& child) {
  Op op;
  op.mutable_fork()->set_child(child);
  return op;
}

Op kill_op(const std::string& process) {
  Op op;
  op.mutable_kill()->set_process(process);
  return op;
}

// Running: neither gone nor a zombie (an orphan's zombie waits for whoever
// reaps this machine's orphans, which may never happen in a container).
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' && stat[paren + 2] != 'X';
}

// A field of /proc/<pid>/status text: "Uid" -> "65534\t65534\t65534\t65534".
std::string status_field(const std::string& status, const std::string& field) {
  const auto at = status.find(field + ":\t");
  if (at == std::string::npos) return "";
  const auto start = at + field.size() + 2;
  return status.substr(start, status.find('\n', start) - start);
}

// The router on one end of a socketpair, served from a thread of the test.
struct Served {
  int host_fd = -1;
  std::unique_ptr<Router> router;
  std::thread serving;

  Served() {
    int pair[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    router = std::make_unique<Router>(HostPort::stream(UniqueFd(pair[0])),
                                      RouterOptions{.reap_all_children = false, .log = [](std::string_view) {}});
    serving = std::thread([this] { router->serve(); });
    host_fd = pair[1];
  }
  // The router ends at the stream's end of file.
  void end() {
    if (serving.joinable()) serving.join();
  }
};

struct AgentFixture {
  Served served;
  std::unique_ptr<AgentClient> client = AgentClient::adopt(served.host_fd);
  fs::path dir;

  AgentFixture() {
    static std::atomic<int> counter{0};
    dir = fs::temp_directory_path() / ("vscsim-agent-test-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++));
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  }
  ~AgentFixture() {
    client->close();
    served.end();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  OpResult run(const std::string& process, const std::string& thread, Op op) {
    auto r = client->run(on(process, thread, std::move(op)), kOpTimeout);
    BOOST_REQUIRE_MESSAGE(r.ok(), error_text(r));
    return std::move(r).value();
  }
  OpResult run(Op op) { return run("main", "main", std::move(op)); }
  std::uint64_t submit(const std::string& process, const std::string& thread, Op op) {
    auto id = client->submit(on(process, thread, std::move(op)));
    BOOST_REQUIRE_MESSAGE(id.ok(), error_text(id));
    return id.value();
  }
  OpResult wait(std::uint64_t id) {
    auto r = client->wait(id, std::chrono::steady_clock::now() + kOpTimeout);
    BOOST_REQUIRE_MESSAGE(r.ok(), error_text(r));
    return std::move(r).value();
  }
  fs::path file(const std::string& name, const std::string& content, fs::perms perms = fs::perms::owner_read |
                                                                                        fs::perms::owner_write |
                                                                                        fs::perms::group_read |
                                                                                        fs::perms::others_read) {
    const fs::path p = dir / name;
    std::ofstream(p) << content;
    fs::permissions(p, perms);
    return p;
  }
};

// Raw frames to and from the router, for what AgentClient would never send.
struct RawFixture {
  Served served;
  FrameDecoder decoder;

  ~RawFixture() {
    ::close(served.host_fd);
    served.end();
  }
  void write_bytes(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(served.host_fd, bytes.data(), bytes.size());
      BOOST_REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void send(const HostMessage& message) { BOOST_REQUIRE(write_frame(served.host_fd, message.SerializeAsString()) == 0); }
  AgentMessage receive() {
    for (;;) {
      if (auto event = decoder.next()) {
        AgentMessage message;
        BOOST_REQUIRE(event->frame);
        BOOST_REQUIRE(message.ParseFromString(event->frame->payload));
        return message;
      }
      char buf[4096];
      const ssize_t n = ::read(served.host_fd, buf, sizeof buf);
      BOOST_REQUIRE_MESSAGE(n > 0, "the agent closed the stream");
      decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }
};

std::string frame(std::string_view payload) {
  const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
  return std::string(header.data(), header.size()) + std::string(payload);
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(hello_reports_protocol_version_kernel_release_and_pid, AgentFixture) {
  auto hello = client->hello(10s);
  BOOST_REQUIRE_MESSAGE(hello.ok(), error_text(hello));
  utsname u{};
  ::uname(&u);
  BOOST_TEST(hello->protocol_version() == 1u);
  BOOST_TEST(hello->kernel_release() == u.release);
  BOOST_TEST(hello->pid() == static_cast<std::uint32_t>(::getpid()));
  BOOST_TEST(hello->monotonic_ns() > 0u);
}

BOOST_FIXTURE_TEST_CASE(bad_frames_get_protocol_errors_and_the_agent_keeps_serving, RawFixture) {
  write_bytes(frame("\xff\xff\xff not a message"));
  AgentMessage m = receive();
  BOOST_TEST(m.id() == 0u);
  BOOST_TEST(m.has_error());
  BOOST_TEST_MESSAGE(m.error().reason());

  // Over the limit: refused, and its bytes skipped without being buffered.
  const std::uint32_t over = kMaxFramePayload + 1;
  const auto header = frame_header(over);
  write_bytes(std::string_view(header.data(), header.size()));
  m = receive();
  BOOST_TEST(m.has_error());
  BOOST_TEST(m.error().reason().find("over the") != std::string::npos, m.error().reason());
  write_bytes(std::string(over, 'g'));

  HostMessage bodiless;
  bodiless.set_id(5);
  send(bodiless);
  m = receive();
  BOOST_TEST(m.id() == 5u);
  BOOST_TEST(m.has_error());

  HostMessage no_op;
  no_op.set_id(6);
  no_op.mutable_run()->set_thread("t");
  send(no_op);
  m = receive();
  BOOST_TEST(m.id() == 6u);
  BOOST_TEST(m.error().reason() == "a Run without an operation");

  HostMessage zero_id;
  *zero_id.mutable_run() = on("main", "main", sleep_op(0));
  send(zero_id);
  m = receive();
  BOOST_TEST(m.id() == 0u);
  BOOST_TEST(m.has_error());

  // A hello in one-byte writes.
  HostMessage hello;
  hello.set_id(7);
  hello.mutable_hello()->set_protocol_version(1);
  for (const char c : frame(hello.SerializeAsString())) write_bytes(std::string_view(&c, 1));
  m = receive();
  BOOST_TEST(m.id() == 7u);
  BOOST_TEST(m.has_hello());
}

BOOST_FIXTURE_TEST_CASE(open_dup_and_close_slots_of_dev_null_and_temp_files, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  OpResult r = run(open_op("/dev/null", "null"));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() > 2);
  BOOST_TEST(r.process() == "main");
  BOOST_TEST(r.thread() == "main");
  BOOST_TEST(r.end_ns() >= r.start_ns());

  BOOST_TEST(run(open_op("/dev/null", "null")).errno_name() == "EEXIST");
  r = run(open_op((dir / "missing").string(), "m"));
  BOOST_TEST(r.err() == ENOENT);
  BOOST_TEST(r.errno_name() == "ENOENT");

  const fs::path created = dir / "created";
  r = run(open_op(created.string(), "tmp", O_RDWR | O_CREAT));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(fs::exists(created));

  Op dup;
  dup.mutable_dup()->set_slot("tmp");
  dup.mutable_dup()->set_new_slot("tmp2");
  r = run(dup);
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() > 2);
  dup.mutable_dup()->set_slot("nothing");
  BOOST_TEST(run(dup).errno_name() == "EBADF");

  Op close;
  close.mutable_close()->set_slot("tmp");
  BOOST_TEST(run(close).err() == 0);
  BOOST_TEST(run(close).errno_name() == "EBADF");
  close.mutable_close()->set_slot("tmp2");
  BOOST_TEST(run(close).err() == 0);
}

BOOST_FIXTURE_TEST_CASE(write_file_then_read_file, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  const fs::path p = dir / "w";
  Op write;
  write.mutable_write_file()->set_path(p.string());
  write.mutable_write_file()->set_data("hello\n");
  OpResult r = run(write);
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() == 6);

  r = run(read_op(p.string()));
  BOOST_TEST(r.data() == "hello\n");
  BOOST_TEST(r.value() == 6);
  BOOST_TEST(run(read_op(p.string(), 2)).data() == "he");

  r = run(read_op((dir / "nope").string()));
  BOOST_TEST(r.errno_name() == "ENOENT");
  BOOST_TEST(!r.detail().empty());
  write.mutable_write_file()->set_path((dir / "no" / "dir").string());
  BOOST_TEST(run(write).errno_name() == "ENOENT");
}

Op exec_op(std::vector<std::string> argv, std::uint32_t max_output = 0, std::uint32_t timeout_ms = 0) {
  Op op;
  for (auto& a : argv) op.mutable_exec()->add_argv(std::move(a));
  op.mutable_exec()->set_max_output_bytes(max_output);
  op.mutable_exec()->set_timeout_ms(timeout_ms);
  return op;
}

BOOST_FIXTURE_TEST_CASE(exec_returns_stdout_stderr_tail_and_exit_status, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  OpResult r = run(exec_op({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() == 3);
  BOOST_TEST(r.data() == "out\n");
  BOOST_TEST(r.detail() == "err\n");

  // More output than kept: the program is still drained to its end, never blocked.
  r = run(exec_op({"/bin/sh", "-c", "head -c 3000000 /dev/zero; echo done >&2"}, 1000));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() == 0);
  BOOST_TEST(r.data().size() == 1000u);
  BOOST_TEST(r.detail() == "done\n");

  // Killed at the timeout, with what it printed so far.
  r = run(exec_op({"/bin/sh", "-c", "echo started; exec sleep 30"}, 0, 300));
  BOOST_TEST(r.errno_name() == "ETIMEDOUT");
  BOOST_TEST(r.value() == 128 + SIGKILL);
  BOOST_TEST(r.data() == "started\n");

  BOOST_TEST(run(exec_op({(dir / "nope").string()})).errno_name() == "ENOENT");
  BOOST_TEST(run(exec_op({})).errno_name() == "EINVAL");
}

BOOST_FIXTURE_TEST_CASE(ioctl_and_blob_call_reach_the_slot_fd, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  BOOST_TEST(run(open_op("/dev/null", "null")).err() == 0);
  Op ioctl;
  ioctl.mutable_ioctl()->set_slot("null");
  ioctl.mutable_ioctl()->set_request("r");
  ioctl.mutable_ioctl()->set_response_len(64);
  ioctl.mutable_ioctl()->set_data_len(3 * 4096);
  ioctl.mutable_ioctl()->set_data_offset(100);
  ioctl.mutable_ioctl()->add_unmapped_pages(1);
  ioctl.mutable_ioctl()->set_data_read_only(true);
  ioctl.mutable_ioctl()->set_response_address(0xdead0000);
  OpResult r = run(ioctl);
  BOOST_TEST(r.errno_name() == "ENOTTY");  // /dev/null takes no ioctl: the call was made
  BOOST_TEST(r.value() == -1);

  ioctl.mutable_ioctl()->set_slot("none");
  BOOST_TEST(run(ioctl).errno_name() == "EBADF");
  ioctl.mutable_ioctl()->set_slot("null");
  ioctl.mutable_ioctl()->add_unmapped_pages(9);
  r = run(ioctl);
  BOOST_TEST(r.errno_name() == "EINVAL");
  BOOST_TEST(r.detail().find("not sent") != std::string::npos, r.detail());

  Op blob;
  blob.mutable_blob()->set_slot("null");
  blob.mutable_blob()->mutable_request()->set_format_version(1);
  blob.mutable_blob()->mutable_request()->mutable_create_container()->set_container("c");
  blob.mutable_blob()->set_fill_length(4096);
  blob.mutable_blob()->set_fill_seed(3);
  r = run(blob);
  BOOST_TEST(r.errno_name() == "ENOTTY", r.detail());
  BOOST_TEST(r.digest().size() == 32u);  // of the generated put data
  blob.mutable_blob()->set_data_capacity(1ull << 40);
  BOOST_TEST(run(blob).errno_name() == "EINVAL");
}

BOOST_FIXTURE_TEST_CASE(fork_runs_ops_in_the_child_on_copied_slots_and_kill_ends_it, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  const fs::path p = file("f", "forked");
  BOOST_TEST(run(open_op(p.string(), "f", O_RDONLY | O_CLOEXEC)).err() == 0);
  OpResult forked = run(fork_op("kid"));
  BOOST_REQUIRE_MESSAGE(forked.err() == 0, forked.detail());
  const auto kid_pid = static_cast<pid_t>(forked.value());
  BOOST_TEST(alive(kid_pid));
  BOOST_TEST(run(fork_op("kid")).errno_name() == "EEXIST");

  OpResult status = run("kid", "t1", read_op("/proc/self/status"));
  BOOST_TEST(status_field(status.data(), "Pid") == std::to_string(kid_pid));
  BOOST_TEST(status.process() == "kid");
  BOOST_TEST(status.thread() == "t1");
  Op dup;
  dup.mutable_dup()->set_slot("f");
  dup.mutable_dup()->set_new_slot("g");
  const OpResult dupped = run("kid", "main", dup);
  BOOST_TEST(dupped.err() == 0, dupped.detail());
  BOOST_TEST(run("kid", "main", read_op("/proc/self/fd/" + std::to_string(dupped.value()))).data() == "forked");

  OpResult killed = run(kill_op("kid"));
  BOOST_TEST(killed.err() == 0, killed.detail());
  BOOST_TEST(killed.value() == 1);
  BOOST_TEST(!alive(kid_pid));
  BOOST_TEST(run("kid", "main", sleep_op(0)).errno_name() == "ESRCH");
  BOOST_TEST(run(kill_op("kid")).errno_name() == "ESRCH");
  // The name is free again.
  BOOST_TEST(run(fork_op("kid")).err() == 0);
}

BOOST_FIXTURE_TEST_CASE(spawn_with_other_credentials_and_pass_an_fd_to_it, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  // Not a skip: without root this case fails and says what is missing.
  BOOST_REQUIRE_MESSAGE(::geteuid() == 0, "this case needs root: Spawn changes uid and gid (run the tests as root)");
  const fs::path shared = file("shared", "secret");
  const fs::path root_only = file("root-only", "x", fs::perms::owner_read | fs::perms::owner_write);
  BOOST_TEST(run(open_op(shared.string(), "f", O_RDONLY | O_CLOEXEC)).err() == 0);
  Op spawn;
  spawn.mutable_spawn()->set_name("nobody");
  spawn.mutable_spawn()->set_uid(65534);
  spawn.mutable_spawn()->set_gid(65534);
  OpResult spawned = run(spawn);
  BOOST_REQUIRE_MESSAGE(spawned.err() == 0, spawned.detail());

  const std::string status = run("nobody", "main", read_op("/proc/self/status")).data();
  BOOST_TEST(status_field(status, "Uid").rfind("65534\t65534", 0) == 0u, status_field(status, "Uid"));
  BOOST_TEST(status_field(status, "Gid").rfind("65534\t65534", 0) == 0u, status_field(status, "Gid"));
  BOOST_TEST(run("nobody", "main", read_op(root_only.string())).errno_name() == "EACCES");
  Op close;
  close.mutable_close()->set_slot("f");
  BOOST_TEST(run("nobody", "main", close).errno_name() == "EBADF");  // a spawned process starts with no slots

  Op pass;
  pass.mutable_pass_fd()->set_slot("f");
  pass.mutable_pass_fd()->set_to("nobody");
  pass.mutable_pass_fd()->set_new_slot("got");
  OpResult passed = run(pass);
  BOOST_REQUIRE_MESSAGE(passed.err() == 0, passed.detail());
  BOOST_TEST(passed.value() > 2);
  BOOST_TEST(run(pass).errno_name() == "EEXIST");  // the receiver's slot is taken now
  pass.mutable_pass_fd()->set_to("ghost");
  BOOST_TEST(run(pass).errno_name() == "ESRCH");

  Op ioctl;
  ioctl.mutable_ioctl()->set_slot("got");
  ioctl.mutable_ioctl()->set_request("r");
  ioctl.mutable_ioctl()->set_response_len(16);
  BOOST_TEST(run("nobody", "t", ioctl).errno_name() == "ENOTTY");  // the fd is there: a file takes no ioctl
  BOOST_TEST(run("nobody", "t", read_op("/proc/self/fd/" + std::to_string(passed.value()))).data() == "secret");
}

BOOST_FIXTURE_TEST_CASE(threads_run_concurrently_and_one_thread_runs_in_order, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  const std::uint64_t slow = submit("main", "slow", sleep_op(1500));
  const std::uint64_t fast = submit("main", "fast", read_op("/proc/self/stat"));
  const auto deadline = std::chrono::steady_clock::now() + kOpTimeout;
  auto first = client->next(deadline);
  BOOST_REQUIRE_MESSAGE(first.ok(), error_text(first));
  BOOST_TEST(first->id == fast);
  auto second = client->next(deadline);
  BOOST_REQUIRE_MESSAGE(second.ok(), error_text(second));
  BOOST_TEST(second->id == slow);
  BOOST_TEST(second->result.end_ns() - second->result.start_ns() >= 1'500'000'000u);
  BOOST_TEST(first->result.end_ns() < second->result.end_ns());
  const auto none = client->next(deadline);
  BOOST_TEST((!none.ok() && none.error().kind == ClientErrorKind::kNotPending));

  const std::uint64_t a = submit("main", "one", sleep_op(300));
  const std::uint64_t b = submit("main", "one", sleep_op(0));
  const OpResult rb = wait(b);
  const OpResult ra = wait(a);
  BOOST_TEST(rb.start_ns() >= ra.end_ns());
}

BOOST_FIXTURE_TEST_CASE(exit_ends_a_thread_or_a_process, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  Op exit;
  exit.mutable_exit();
  BOOST_TEST(run("main", "t", exit).err() == 0);
  BOOST_TEST(run("main", "t", sleep_op(0)).err() == 0);  // a new thread of the same name

  const OpResult forked = run(fork_op("short"));
  BOOST_REQUIRE(forked.err() == 0);
  BOOST_TEST(run("short", "main", exit).err() == 0);
  for (int i = 0; i < 100 && alive(static_cast<pid_t>(forked.value())); ++i) std::this_thread::sleep_for(20ms);
  BOOST_TEST(!alive(static_cast<pid_t>(forked.value())));
  BOOST_TEST(run("short", "main", sleep_op(0)).errno_name() == "ESRCH");
  BOOST_TEST(run("ghost", "main", sleep_op(0)).errno_name() == "ESRCH");
}

BOOST_FIXTURE_TEST_CASE(runs_of_a_process_that_dies_are_answered_and_main_comes_back, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  BOOST_TEST(run(open_op("/dev/null", "n")).err() == 0);
  BOOST_REQUIRE(run(fork_op("killer")).err() == 0);
  const std::uint64_t sleeping = submit("main", "sleeper", sleep_op(20000));
  std::this_thread::sleep_for(100ms);
  const OpResult killed = run("killer", "main", kill_op("main"));
  BOOST_TEST(killed.err() == 0, killed.detail());
  const OpResult slept = wait(sleeping);
  BOOST_TEST(slept.errno_name() == "ESRCH");
  BOOST_TEST(slept.detail() == "process 'main' ended before answering");
  // A new main, with no slots.
  Op close;
  close.mutable_close()->set_slot("n");
  BOOST_TEST(run(close).errno_name() == "EBADF");
}

BOOST_FIXTURE_TEST_CASE(shutdown_ends_every_process_and_the_agent_serves_on, AgentFixture,
                        *boost::unit_test::enable_if<kWorkersCanRun>()) {
  BOOST_TEST(run(open_op("/dev/null", "n")).err() == 0);
  const OpResult kid = run(fork_op("kid"));
  BOOST_REQUIRE(kid.err() == 0);
  const OpResult grandchild = run("kid", "main", fork_op("grandchild"));
  BOOST_REQUIRE(grandchild.err() == 0);
  const std::uint64_t sleeping = submit("kid", "t", sleep_op(30000));

  auto down = client->shutdown(kOpTimeout);
  BOOST_REQUIRE_MESSAGE(down.ok(), error_text(down));
  BOOST_TEST(down->err() == 0, down->detail());
  BOOST_TEST(wait(sleeping).errno_name() == "ESRCH");
  BOOST_TEST(!alive(static_cast<pid_t>(kid.value())));
  BOOST_TEST(!alive(static_cast<pid_t>(grandchild.value())));
  BOOST_TEST(run("kid", "main", sleep_op(0)).errno_name() == "ESRCH");
  Op close;
  close.mutable_close()->set_slot("n");
  BOOST_TEST(run(close).errno_name() == "EBADF");
  BOOST_TEST(client->hello(10s).ok());
  BOOST_TEST(run(fork_op("kid")).err() == 0);
}

BOOST_AUTO_TEST_CASE(client_reports_a_closed_connection_and_an_agent_that_does_not_answer) {
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  auto client = AgentClient::adopt(pair[1]);
  // Nobody reads the other end: Hello goes out, no answer comes.
  auto hello = client->hello(200ms);
  BOOST_TEST((!hello.ok() && hello.error().kind == ClientErrorKind::kTimeout));
  const auto id = client->submit(on("main", "main", sleep_op(0)));
  BOOST_REQUIRE(id.ok());
  ::close(pair[0]);
  auto r = client->wait(id.value(), std::chrono::steady_clock::now() + 5s);
  BOOST_TEST((!r.ok() && r.error().kind == ClientErrorKind::kClosed), error_text(r));
  const auto late = client->submit(on("main", "main", sleep_op(0)));
  BOOST_TEST((!late.ok() && late.error().kind == ClientErrorKind::kClosed));
  const auto unknown = client->wait(12345, std::chrono::steady_clock::now());
  BOOST_TEST((!unknown.ok() && unknown.error().kind == ClientErrorKind::kNotPending));
  auto missing = AgentClient::connect("/nonexistent/agent.sock", 100ms);
  BOOST_TEST((!missing.ok() && missing.error().kind == ClientErrorKind::kConnect));
}

// The guest agent (harness/agent) in a real guest, driven through AgentClient:
// init starts it with vscsim.agent=1, vsp-sim offers the blob device (relid
// 2, after the fixture's keyboard), and the guest loads vscsim_vmbus and
// az_blob. No run script: every guest step is an agent operation.
//
//   hello         the pinned kernel's release
//   blob calls    create a container; put 1 MiB generated in the guest; get
//                 it back as a digest only: the same SHA-256 (and the host's own)
//   raw ioctl     data_valid > data_len: EINVAL from the driver
//   credentials   a process spawned as uid 1000 gets the fd by PassFd: EPERM
//   fork          a forked child uses the inherited fd: the same digest
//   debugfs       no page left pinned
//   concurrency   the host delays the device 2 s: a second thread's answer
//                 comes while the first thread's request waits
//   reconnect     a host that leaves and comes back finds the forked child still there
//   shutdown      ends every process; the console stays clean
#define BOOST_TEST_MODULE agent_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>

#include "vmbus_vm_fixture.h"
#include "vscsim/agent/client.h"
#include "vscsim/agent/fill.h"
#include "vscsim/blob.pb.h"
#include "vscsim/build_config.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;
using agent::AgentClient;
using agent::Op;
using agent::OpResult;

namespace {

const std::vector<std::string> kBlobModules{"vscsim_vmbus", "az_blob"};
const std::vector<std::string> kBlobSim{"--device", "blob"};
constexpr const char* kBlobRelid = "2";
constexpr auto kStepTimeout = 60s;
constexpr std::uint64_t kPutBytes = 1 << 20;
constexpr std::uint64_t kFillSeed = 42;

agent::Run on(const std::string& process, const std::string& thread, Op op) {
  agent::Run run;
  run.set_process(process);
  run.set_thread(thread);
  *run.mutable_op() = std::move(op);
  return run;
}

Op blob_call(const blob::Request& request, std::uint64_t data_capacity = 0, bool digest_only = false) {
  Op op;
  auto& call = *op.mutable_blob();
  call.set_slot("blob");
  *call.mutable_request() = request;
  call.mutable_request()->set_format_version(1);
  call.set_data_capacity(data_capacity);
  call.set_digest_only(digest_only);
  call.set_timeout_ms(30000);
  return op;
}

blob::Request get_request() {
  blob::Request r;
  r.mutable_get()->set_container("c1");
  r.mutable_get()->set_blob("b");
  return r;
}

Op read_op(const std::string& path) {
  Op op;
  op.mutable_read_file()->set_path(path);
  return op;
}

// An ioctl whose lengths the driver must refuse before it looks at anything else.
Op bad_ioctl() {
  Op op;
  auto& io = *op.mutable_ioctl();
  io.set_slot("blob");
  io.set_request("x");
  io.set_response_len(64);
  io.set_data_len(16);
  io.set_data_valid(32);
  return op;
}

// A well-formed ioctl (a stat of the blob), refused only for who sends it.
Op good_ioctl() {
  blob::Request r;
  r.set_format_version(1);
  r.mutable_stat()->set_container("c1");
  r.mutable_stat()->set_blob("b");
  Op op;
  auto& io = *op.mutable_ioctl();
  io.set_slot("blob");
  io.set_request(r.SerializeAsString());
  io.set_response_len(4096);
  io.set_timeout_ms(30000);
  return op;
}

struct Agent {
  std::unique_ptr<AgentClient> client;

  OpResult run(const std::string& process, const std::string& thread, Op op) {
    auto r = client->run(on(process, thread, std::move(op)), kStepTimeout);
    BOOST_REQUIRE_MESSAGE(r.ok(), agent::error_text(r));
    return std::move(r).value();
  }
  OpResult run(Op op) { return run("main", "main", std::move(op)); }
};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(agent_drives_az_blob_through_processes_and_threads) {
  Run run = boot_with_sim("vscsim-agent", "", {}, {"vscsim.agent=1"}, kBlobSim, kBlobModules);
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  BOOST_TEST(has(g.console(), "vscsim-init: agent pid="));

  auto connected = AgentClient::connect(g.agent_socket(), 10s);
  BOOST_REQUIRE_MESSAGE(connected.ok(), agent::error_text(connected));
  Agent a{std::move(connected).value()};
  const auto hello = a.client->hello(60s);
  BOOST_REQUIRE_MESSAGE(hello.ok(), agent::error_text(hello));
  BOOST_TEST(hello->kernel_release() == build_config::kKernelRelease);
  BOOST_TEST(hello->kernel_release() == "6.1.0-50-cloud-amd64");
  BOOST_TEST(hello->protocol_version() == 1u);

  // The device node comes once the channel is offered and bound.
  Op open;
  open.mutable_open()->set_path("/dev/azure_blob");
  open.mutable_open()->set_slot("blob");
  OpResult opened;
  for (int i = 0; i < 300; ++i) {
    opened = a.run(open);
    if (opened.err() != ENOENT) break;
    std::this_thread::sleep_for(100ms);
  }
  BOOST_REQUIRE_MESSAGE(opened.err() == 0, opened.errno_name() << " " << opened.detail());

  blob::Request create;
  create.mutable_create_container()->set_container("c1");
  OpResult r = a.run(blob_call(create));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.blob().status() == blob::OK, r.detail());

  blob::Request put;
  put.mutable_put()->set_container("c1");
  put.mutable_put()->set_blob("b");
  put.mutable_put()->set_length(kPutBytes);
  Op put_op = blob_call(put);
  put_op.mutable_blob()->set_fill_length(kPutBytes);
  put_op.mutable_blob()->set_fill_seed(kFillSeed);
  const OpResult put_result = a.run(put_op);
  BOOST_TEST(put_result.err() == 0, put_result.detail());
  BOOST_TEST(put_result.blob().status() == blob::OK, put_result.detail());
  BOOST_TEST(put_result.blob().put().blob().size() == kPutBytes);
  const std::string expected = agent::digest_bytes(agent::sha256(agent::fill_bytes(kFillSeed, kPutBytes)));
  BOOST_TEST(agent::to_hex(put_result.digest()) == agent::to_hex(expected));

  const OpResult got = a.run(blob_call(get_request(), kPutBytes, true));
  BOOST_TEST(got.err() == 0, got.detail());
  BOOST_TEST(got.blob().status() == blob::OK, got.detail());
  BOOST_TEST(got.blob().get().length() == kPutBytes);
  BOOST_TEST(got.data().empty());
  BOOST_TEST(agent::to_hex(got.digest()) == agent::to_hex(expected));

  r = a.run(bad_ioctl());
  BOOST_TEST(r.errno_name() == "EINVAL", r.detail());

  // Another uid's process holding the fd: the driver's credential check.
  Op spawn;
  spawn.mutable_spawn()->set_name("other");
  spawn.mutable_spawn()->set_uid(1000);
  spawn.mutable_spawn()->set_gid(1000);
  r = a.run(spawn);
  BOOST_REQUIRE_MESSAGE(r.err() == 0, r.detail());
  Op pass;
  pass.mutable_pass_fd()->set_slot("blob");
  pass.mutable_pass_fd()->set_to("other");
  pass.mutable_pass_fd()->set_new_slot("blob");
  r = a.run(pass);
  BOOST_REQUIRE_MESSAGE(r.err() == 0, r.detail());
  r = a.run("other", "main", good_ioctl());
  BOOST_TEST(r.errno_name() == "EPERM", r.detail());
  r = a.run(good_ioctl());  // the opener itself may
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.status() == 0u);
  BOOST_TEST(r.response_len() > 0u);

  // A forked child has the same credentials and the inherited fd.
  Op fork;
  fork.mutable_fork()->set_child("kid");
  r = a.run(fork);
  BOOST_REQUIRE_MESSAGE(r.err() == 0, r.detail());
  r = a.run("kid", "main", blob_call(get_request(), kPutBytes, true));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(agent::to_hex(r.digest()) == agent::to_hex(expected));

  r = a.run(read_op("/sys/kernel/debug/az_blob/pinned_pages"));
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.data() == "0\n");

  // The host holds every request 2 s: the thread that waits on the device
  // does not hold up the other.
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-delay ") + kBlobRelid + " 2000"), "ok");
  blob::Request stat;
  stat.mutable_stat()->set_container("c1");
  stat.mutable_stat()->set_blob("b");
  auto slow = a.client->submit(on("main", "slow", blob_call(stat)));
  BOOST_REQUIRE(slow.ok());
  std::this_thread::sleep_for(500ms);  // the slow request is in the driver by now
  auto fast = a.client->submit(on("main", "fast", read_op("/sys/kernel/debug/az_blob/pinned_pages")));
  BOOST_REQUIRE(fast.ok());
  const auto deadline = std::chrono::steady_clock::now() + kStepTimeout;
  auto first = a.client->next(deadline);
  BOOST_REQUIRE_MESSAGE(first.ok(), agent::error_text(first));
  auto second = a.client->next(deadline);
  BOOST_REQUIRE_MESSAGE(second.ok(), agent::error_text(second));
  BOOST_TEST(first->id == fast.value());
  BOOST_TEST(second->id == slow.value());
  const OpResult& slow_result = second->result;
  const OpResult& fast_result = first->result;
  BOOST_TEST(slow_result.err() == 0, slow_result.detail());
  BOOST_TEST(slow_result.blob().status() == blob::OK);
  BOOST_TEST(slow_result.end_ns() - slow_result.start_ns() >= 2'000'000'000u);
  BOOST_TEST(fast_result.start_ns() > slow_result.start_ns());
  BOOST_TEST(fast_result.end_ns() < slow_result.end_ns());
  // Its pages were pinned while the host held it.
  BOOST_TEST(fast_result.data() != "0\n", fast_result.data());
  BOOST_TEST_MESSAGE("slow thread " << (slow_result.end_ns() - slow_result.start_ns()) / 1'000'000
                                    << " ms; fast thread answered "
                                    << (slow_result.end_ns() - fast_result.end_ns()) / 1'000'000
                                    << " ms before it; pinned while waiting: " << fast_result.data());
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-delay ") + kBlobRelid + " 0"), "ok");

  // A host that leaves and comes back finds the agent, and its processes, as it left them.
  a.client->close();
  connected = AgentClient::connect(g.agent_socket(), 10s);
  BOOST_REQUIRE_MESSAGE(connected.ok(), agent::error_text(connected));
  a.client = std::move(connected).value();
  const auto again = a.client->hello(30s);
  BOOST_REQUIRE_MESSAGE(again.ok(), agent::error_text(again));
  BOOST_TEST(again->pid() == hello->pid());

  Op kill;
  kill.mutable_kill()->set_process("kid");
  r = a.run(kill);
  BOOST_TEST(r.err() == 0, r.detail());
  BOOST_TEST(r.value() == 1);

  const auto down = a.client->shutdown(kStepTimeout);
  BOOST_REQUIRE_MESSAGE(down.ok(), agent::error_text(down));
  BOOST_TEST(down->err() == 0, down->detail());
  r = a.run("other", "main", read_op("/proc/self/status"));
  BOOST_TEST(r.errno_name() == "ESRCH");
  r = a.run(read_op("/sys/kernel/debug/az_blob/pinned_pages"));
  BOOST_TEST(r.data() == "0\n");
  BOOST_TEST(a.client->protocol_errors().empty());

  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  log_for_the_record(g, *run.sim);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
}

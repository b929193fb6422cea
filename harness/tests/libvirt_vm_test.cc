// vsc-harness --backend libvirt: the guest as a transient libvirt domain on
// qemu:///system (harness/libvirt). Smoke scenarios pass through it, the
// domain XML is kept for the user, and nothing is left behind: no domain,
// no RAM file, also when the harness is SIGKILLed mid-run (AUTODESTROY).
// virsh is used only to look, as a user would; the backend uses the C API.
#define BOOST_TEST_MODULE libvirt_vm
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "run_command.h"
#include "vscsim/report/json.h"

using namespace vscsim;
using namespace std::chrono_literals;
using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;

namespace {

const std::string kHarness = VSC_HARNESS_BINARY;

// The names of the domains libvirt runs now.
std::string running_domains() { return run_command("virsh -c qemu:///system list --name").output; }

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const auto a = text.find(open);
  if (a == std::string::npos) return "";
  const auto b = text.find(close, a + open.size());
  return b == std::string::npos ? "" : text.substr(a + open.size(), b - a - open.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(smoke_scenarios_pass_as_a_libvirt_domain_and_leave_nothing_behind) {
  vscsim::testing::TempDir dir("libvirt-vm");
  const fs::path json = dir.path / "run.json";
  // io: a put and a get through az_blob; rescind_in_flight: the removal race
  // the tool exists for. TMPDIR puts the kept run folder where we look.
  const auto r = run_command("TMPDIR=" + dir.path.string() + " " + kHarness +
                             " run --backend libvirt --filter io --filter rescind_in_flight --seed 7"
                             " --keep-run-dirs --json " + json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0, "vsc-harness --backend libvirt exited " << r.exit_code);
  auto rep = report::from_json(slurp(json));
  BOOST_REQUIRE_MESSAGE(rep.ok(), "no JSON report: " << (rep.ok() ? "" : rep.error()));
  BOOST_TEST(rep->result_size() == 2);
  for (const auto& s : rep->result()) BOOST_TEST(s.status() == report::ScenarioResult::PASS, s.name() << " did not pass: " << s.message());

  fs::path run_dir;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    if (e.path().filename().string().starts_with("vscsim-run.")) run_dir = e.path();
  }
  BOOST_REQUIRE_MESSAGE(!run_dir.empty(), "--keep-run-dirs kept no run folder in " << dir.path);
  // The domain XML is kept for the user: the transport's device, shared RAM.
  const std::string xml = slurp(run_dir / "domain.xml");
  BOOST_TEST(has(xml, "<model type='ivshmem-doorbell'/>"), xml);
  BOOST_TEST(has(xml, "<server path='" + (run_dir / "vsp-sim.sock").string() + "'/>"), xml);
  BOOST_TEST(has(xml, "<access mode='shared'/>"), xml);
  const std::string name = between(xml, "<name>", "</name>");
  BOOST_REQUIRE(!name.empty());
  // vsp-sim found the RAM file libvirt made, through QEMU's maps.
  const std::string sim_log = slurp(run_dir / "vsp-sim.log");
  BOOST_TEST(has(sim_log, "guest RAM /var/lib/libvirt/qemu/ram/"), sim_log);
  BOOST_TEST(has(sim_log, "mapped (512 MiB)"), sim_log);
  // The console came through the domain's serial file.
  BOOST_TEST(has(slurp(run_dir / "console.log"), "vscsim-init: ready"));

  // Gone: the domain, and libvirt's RAM folder for it (<id>-<name>).
  BOOST_TEST(!has(running_domains(), name), "domain " << name << " still runs");
  for (const auto& e : fs::directory_iterator("/var/lib/libvirt/qemu/ram")) {
    BOOST_TEST(!e.path().filename().string().ends_with("-" + name), e.path() << " was left behind");
  }
}

BOOST_AUTO_TEST_CASE(a_killed_harness_leaves_no_domain_running) {
  vscsim::testing::TempDir dir("libvirt-vm-kill");
  const pid_t harness = ::fork();
  BOOST_REQUIRE(harness >= 0);
  if (harness == 0) {
    ::setenv("TMPDIR", dir.path.c_str(), 1);
    ::execl(kHarness.c_str(), kHarness.c_str(), "run", "--backend", "libvirt", "--filter", "io", "--seed", "3",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // The session's domain is vsc-harness-<harness pid>-<n>. Kill the harness
  // once the guest is up (its init is ready), not while QEMU still starts:
  // then only AUTODESTROY ends the domain (vsp-sim dying does not stop QEMU).
  const std::string prefix = "vsc-harness-" + std::to_string(harness) + "-";
  bool ready = false;
  for (int i = 0; i < 1200 && !ready; ++i) {
    for (const auto& e : fs::directory_iterator(dir.path)) {
      if (has(slurp(e.path() / "console.log"), "vscsim-init: ready")) ready = true;
    }
    if (!ready) std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(ready, "the guest of the harness did not get ready within 120 s");
  BOOST_TEST(has(running_domains(), prefix), "no domain " << prefix << "* runs");
  ::kill(harness, SIGKILL);
  int status = 0;
  ::waitpid(harness, &status, 0);
  // libvirtd destroys the domain when the dead harness's connection closes.
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = !has(running_domains(), prefix);
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(gone, "domain " << prefix << "* still runs 30 s after its harness was killed");
}

// The whole VMBus path in a real guest: vsp-sim offers the Hyper-V synthetic
// keyboard; the guest loads vscsim_vmbus and force-loads Debian's own
// hyperv-keyboard.ko; the test checks, from the guest's sysfs and evdev and
// from the simulator's control socket, that
//   - the device appears on the vmbus bus with the keyboard's class_id and
//     hyperv_keyboard binds (INITIATE_CONTACT, offers, GPADL, OPENCHANNEL);
//   - the keyboard protocol was negotiated (host state);
//   - a keystroke injected on the host reaches the guest's input layer
//     (KEY_A down and up read from /dev/input/eventN);
//   - a rescind removes the device (the driver's remove unregisters its
//     serio port), RELID_RELEASED reaches the host, and a reoffer brings it
//     back, bound again;
//   - the kernel reported no BUG/WARNING/oops.
// Negative control: the host refuses the open (fail-open fault), the driver's
// probe fails, and the test's "bound" check reports it.
//
// The guest side is a shell script run by images/init (LaunchOptions::run_script); it
// prints "vscsim-run: <word> ..." lines the test waits for. It is the stand-in
// for the guest agent, which does not exist yet.
#define BOOST_TEST_MODULE vmbus_keyboard_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
#include <string>

#include "vmbus_vm_fixture.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;

namespace {

// The guest's half (busy-box sh). BOUND_WAIT tenths of a second for the bind.
std::string guest_script(int bound_wait) {
  return keyboard_script_prelude(bound_wait) + R"SH(
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
d=$(dev)
waitfor 'ls -d "$d"/serio*/input/input*/event* >/dev/null 2>&1' 100 || { echo no-input; exit 1; }
ev=$(basename "$(ls -d "$d"/serio*/input/input*/event* | head -n 1)")
waitfor '[ -c "/dev/input/$ev" ]' 50 || { echo no-node "$ev"; exit 1; }
exec 3<"/dev/input/$ev"
echo "key-wait $ev"
timeout 20 sh -c 'i=0; while [ $i -lt 16 ]; do i=$((i+1)); set -- $(dd bs=24 count=1 2>/dev/null | od -An -v -tu2 -w24); [ $# -ge 11 ] || exit 1; echo "ev type=$9 code=${10} value=${11}"; [ "$9" = 1 ] && [ "${11}" = 0 ] && exit 0; done; exit 1' <&3
echo "key-done rc=$?"
exec 3<&-
s=$(basename "$(ls -d "$d"/serio* | head -n 1)")
waitfor '[ -z "$(dev)" ]' 300 || { echo still-there; exit 1; }
# The bus link goes before the driver's remove runs (device_del order): give
# remove a moment to unregister the serio port.
waitfor '! ls /sys/bus/serio/devices/ | grep -q "^$s\$"' 50
echo "removed serio_left=$(ls /sys/bus/serio/devices/ | grep -c "^$s\$")"
waitfor bound 300 || { report not-rebound; exit 1; }
report rebound
)SH";
}

}  // namespace

BOOST_AUTO_TEST_CASE(hyperv_keyboard_binds_types_and_survives_rescind_and_reoffer) {
  Run run = boot_with_sim("vscsim-vmbus-kbd", guest_script(300), {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  BOOST_TEST_MESSAGE("launch to ready: " << run.boot.report.launch_to_ready_s() << " s");

  // 1. Bound: INITIATE_CONTACT -> offers -> GPADL -> open -> probe.
  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  BOOST_TEST_MESSAGE("launch to bound: " << since(g.started_at()) << " s (" << why << ")");
  std::string state;
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "version=5.2", "channel=open ring=open",
                                  "state=negotiated negotiations=1"}, 10s, &state), state);

  // 2. A keystroke from the host reaches evdev in the guest.
  BOOST_REQUIRE_MESSAGE(run_line(g, "key-wait", 30s), "guest never opened its event device");
  const std::string key = run.sim->ask("key 0x1e");
  BOOST_REQUIRE_MESSAGE(key == "ok", key);
  const auto done = run_line(g, "key-done", 30s);
  BOOST_REQUIRE(done);
  BOOST_TEST(*done == "vscsim-run: key-done rc=0");
  const std::string& console = g.console();
  BOOST_TEST(console.find("vscsim-run: ev type=1 code=30 value=1") != std::string::npos);  // KEY_A down
  BOOST_TEST(console.find("vscsim-run: ev type=1 code=30 value=0") != std::string::npos);  // KEY_A up
  BOOST_TEST(run.sim->wait_state({"keys=2"}, 5s, &state), state);

  // 3. Rescind: the device goes, its driver's remove unregisters the serio
  //    port, and the guest releases the relid.
  const auto rescind_at = std::chrono::steady_clock::now();
  BOOST_REQUIRE_EQUAL(run.sim->ask("rescind 1"), "ok");
  const auto removed = run_line(g, "removed", 40s);
  BOOST_REQUIRE_MESSAGE(removed, "device not removed after rescind");
  BOOST_TEST(*removed == "vscsim-run: removed serio_left=0");
  BOOST_TEST(run.sim->wait_state({"released=1", "channel=released", "state=closed"}, 10s, &state), state);
  BOOST_TEST_MESSAGE("rescind to released: " << since(rescind_at) << " s");

  // 4. Reoffer: the same relid comes back and binds again.
  BOOST_REQUIRE_EQUAL(run.sim->ask("reoffer 1"), "ok");
  const auto rebound = run_line(g, "rebound", 40s);
  BOOST_REQUIRE_MESSAGE(rebound, "not rebound after reoffer");
  BOOST_TEST(rebound->find("driver=hyperv_keyboard") != std::string::npos, *rebound);
  // The new probe negotiated again (a second protocol request).
  BOOST_TEST(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=2"}, 10s, &state),
             state);
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  // 5. The kernel said nothing bad, and the simulator stops cleanly.
  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  BOOST_TEST(console.find("insmod-force: /lib/vscsim/kmods/extra/hyperv_keyboard.ko loaded") != std::string::npos);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  log_for_the_record(g, *run.sim);
  BOOST_TEST(run.sim->log().find("corrupted") == std::string::npos);
}

// Negative control: the host refuses the open, so hyperv_keyboard's probe
// fails; the "bound" check must say so.
BOOST_AUTO_TEST_CASE(refused_open_is_detected_as_an_unbound_keyboard) {
  Run run = boot_with_sim("vscsim-vmbus-kbd-neg", guest_script(100), {"fail-open 1"});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  std::string why;
  BOOST_TEST(!keyboard_bound(g, 60s, &why), "the check missed a refused open: " << why);
  BOOST_TEST(why.find("not-bound") != std::string::npos, why);
  // The device itself was offered (it is on the bus), only the driver failed.
  BOOST_TEST(why.find(std::string("class_id=") + kKeyboardClassId) != std::string::npos, why);
  std::string state;
  BOOST_TEST(run.sim->wait_state({"channel=offered", "state=closed"}, 5s, &state), state);
}

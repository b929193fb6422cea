// Driver and transport lifecycle in a real guest, with Debian's hyperv-keyboard
// bound through vscsim_vmbus to vsp-sim's keyboard (relid 1):
//   - sysfs unbind runs the driver's remove (serio port gone, channel closed
//     on the host) and bind probes again (a second protocol negotiation);
//   - rmmod vscsim_vmbus is refused while hyperv_keyboard uses it; once the
//     driver is gone it succeeds with the device still offered: the bus and
//     the device disappear and the host sees UNLOAD; loading both again
//     reconnects and binds;
//   - the simulator going away (SIGTERM: host_state Stopped; SIGKILL: the
//     heartbeat stalls) fails every channel: the keyboard leaves the bus in
//     bounded time, its driver's remove runs, both modules unload and the
//     script ends;
//   - the Azure Blob device's companion virtual-PCI offer (vsp-sim --device
//     blob-vpci) gets no vmbus device and is never opened;
//   - the kernel reported no BUG/WARNING/oops.
// Each host-side expectation is read from vsp-sim's `state` while the guest
// script waits for the test's "go" (vmbus_vm_fixture.h), so it checks what the
// host saw, not what the script says it did.
#define BOOST_TEST_MODULE vmbus_lifecycle_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <string>

#include "vmbus_vm_fixture.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;

namespace {

// Waits for the bind, then reports "unbound ..." after the unbind and
// "bound-again ..." after the bind; the host's go comes in between.
std::string unbind_bind_script() {
  return keyboard_script_prelude(300) + R"SH(
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
d=$(dev)
drv=/sys/bus/vmbus/drivers/hyperv_keyboard
waitfor 'ls -d "$d"/serio* >/dev/null 2>&1' 100 || { echo no-serio; exit 1; }
s=$(basename "$(ls -d "$d"/serio* | head -n 1)")
echo "${d##*/}" >"$drv/unbind"
rc=$?
# The write returns once the driver's remove has run.
echo "unbound rc=$rc has_driver=$([ -e "$d/driver" ] && echo 1 || echo 0) on_bus=$([ -e "$d" ] && echo 1 || echo 0) serio_left=$(ls /sys/bus/serio/devices/ | grep -c "^$s\$")"
wait_go || { echo no-go; exit 1; }
echo "${d##*/}" >"$drv/bind"
echo "bind rc=$?"
waitfor bound 100 || { report not-bound-again; exit 1; }
waitfor 'ls -d "$d"/serio* >/dev/null 2>&1' 100 || { echo no-serio-again; exit 1; }
report bound-again
)SH";
}

// rmmod while in use, rmmod of the driver, rmmod of the transport, reload of
// both; one line per step, the host's go after each.
std::string rmmod_script() {
  return keyboard_script_prelude(300) + R"SH(
loaded() { grep -c "^$1 " /proc/modules; }
isbound() { bound && echo 1 || echo 0; }
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
rmmod vscsim_vmbus
rc=$?
echo "busy-rmmod rc=$rc loaded=$(loaded vscsim_vmbus) users=$(grep '^vscsim_vmbus ' /proc/modules | cut -d' ' -f4) bound=$(isbound)"
wait_go || { echo no-go; exit 1; }
rmmod hyperv_keyboard
rc=$?
echo "rmmod-driver rc=$rc loaded=$(loaded hyperv_keyboard) on_bus=$([ -n "$(dev)" ] && echo 1 || echo 0) bound=$(isbound)"
wait_go || { echo no-go; exit 1; }
rmmod vscsim_vmbus
rc=$?
echo "rmmod-bus rc=$rc loaded=$(loaded vscsim_vmbus) bus=$([ -e /sys/bus/vmbus ] && echo 1 || echo 0) on_bus=$([ -n "$(dev)" ] && echo 1 || echo 0)"
wait_go || { echo no-go; exit 1; }
insmod /lib/vscsim/vscsim_vmbus.ko || { echo reload-failed; exit 1; }
insmod-force /lib/vscsim/kmods/extra/hyperv_keyboard.ko || { echo reload-driver-failed; exit 1; }
waitfor bound 300 || { report not-bound-again; exit 1; }
report bound-again
)SH";
}

// Waits for the bind and the serio port, says "ready", then (the test stops
// vsp-sim) waits at most 30 s for the keyboard to leave the bus and its serio
// port to go (the remove ran), and unloads the driver and the transport; one
// line per step.
std::string host_gone_script() {
  return keyboard_script_prelude(300) + R"SH(
loaded() { grep -c "^$1 " /proc/modules; }
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
d=$(dev)
waitfor 'ls -d "$d"/serio* >/dev/null 2>&1' 100 || { echo no-serio; exit 1; }
s=$(basename "$(ls -d "$d"/serio* | head -n 1)")
echo "ready dev=${d##*/}"
# The bus link goes before the driver's remove runs: wait for both.
waitfor '[ ! -e "$d" ] && ! ls /sys/bus/serio/devices/ | grep -q "^$s\$"' 300
rc=$?
echo "gone rc=$rc on_bus=$([ -n "$(dev)" ] && echo 1 || echo 0) serio_left=$(ls /sys/bus/serio/devices/ | grep -c "^$s\$") devices=$(ls /sys/bus/vmbus/devices/ | grep -c .) tenths=$n"
rmmod hyperv_keyboard
rc=$?
echo "rmmod-driver rc=$rc loaded=$(loaded hyperv_keyboard)"
rmmod vscsim_vmbus
rc=$?
echo "rmmod-bus rc=$rc loaded=$(loaded vscsim_vmbus) bus=$([ -e /sys/bus/vmbus ] && echo 1 || echo 0)"
)SH";
}

// Waits for the bind, gives the transport a moment to handle every offer,
// then lists what is on the bus.
std::string companion_script() {
  return keyboard_script_prelude(300) + R"SH(
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
sleep 2
echo "devices count=$(ls /sys/bus/vmbus/devices/ | grep -c .) keyboards=$(cat /sys/bus/vmbus/devices/*/class_id | grep -c "^$K\$") blob=$(cat /sys/bus/vmbus/devices/*/device_id | grep -ci d4573da2) vpci=$(cat /sys/bus/vmbus/devices/*/class_id | grep -ci 44c4f61d)"
)SH";
}

void expect_clean_console(launcher::Guest& g, Run& run) {
  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
}

}  // namespace

BOOST_AUTO_TEST_CASE(sysfs_unbind_closes_the_channel_and_bind_negotiates_again) {
  Run run = boot_with_sim("vscsim-vmbus-unbind", unbind_bind_script(), {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  GoLine go{g};

  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  std::string state;
  BOOST_REQUIRE_MESSAGE(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=1"}, 10s,
                                            &state), state);

  // Unbind: remove ran (no driver, serio port gone, device still on the bus)
  // and closed the channel on the host, which still offers it.
  const auto unbound = run_line(g, "unbound", 30s);
  BOOST_REQUIRE_MESSAGE(unbound, "no unbind");
  BOOST_TEST(*unbound == "vscsim-run: unbound rc=0 has_driver=0 on_bus=1 serio_left=0");
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "channel=offered ring=closed",
                                  "state=closed negotiations=1"}, 10s, &state), state);

  // Bind: probe again, the channel reopens, the protocol is negotiated again.
  BOOST_REQUIRE(go.go());
  const auto bind = run_line(g, "bind", 30s);
  BOOST_REQUIRE_MESSAGE(bind, "no bind");
  BOOST_TEST(*bind == "vscsim-run: bind rc=0");
  const auto again = run_line(g, "bound-again", 30s);
  BOOST_REQUIRE_MESSAGE(again, "not bound again");
  BOOST_TEST(again->find("driver=hyperv_keyboard") != std::string::npos, *again);
  BOOST_TEST(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=2"}, 10s, &state),
             state);
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  expect_clean_console(g, run);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  log_for_the_record(g, *run.sim);
}

BOOST_AUTO_TEST_CASE(transport_unloads_with_a_device_offered_but_not_while_a_driver_uses_it) {
  Run run = boot_with_sim("vscsim-vmbus-rmmod", rmmod_script(), {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  GoLine go{g};

  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  std::string state;
  BOOST_REQUIRE_MESSAGE(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=1"}, 10s,
                                            &state), state);

  // 1. In use: refused, nothing changed on either side.
  const auto busy = run_line(g, "busy-rmmod", 30s);
  BOOST_REQUIRE_MESSAGE(busy, "no busy rmmod");
  BOOST_TEST(busy->find("rc=0") == std::string::npos, *busy);
  BOOST_TEST(busy->find("loaded=1 users=hyperv_keyboard, bound=1") != std::string::npos, *busy);
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "channel=open ring=open",
                                  "state=negotiated negotiations=1"}, 5s, &state), state);

  // 2. The driver goes: its remove closes the channel; the device stays.
  BOOST_REQUIRE(go.go());
  const auto driver = run_line(g, "rmmod-driver", 30s);
  BOOST_REQUIRE_MESSAGE(driver, "no rmmod of the driver");
  BOOST_TEST(*driver == "vscsim-run: rmmod-driver rc=0 loaded=0 on_bus=1 bound=0");
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "channel=offered ring=closed", "state=closed"}, 10s,
                                 &state), state);

  // 3. The transport goes with the device still offered: bus and device are
  //    gone and the host saw UNLOAD (no version, the channel unoffered).
  BOOST_REQUIRE(go.go());
  const auto bus = run_line(g, "rmmod-bus", 30s);
  BOOST_REQUIRE_MESSAGE(bus, "no rmmod of the transport");
  BOOST_TEST(*bus == "vscsim-run: rmmod-bus rc=0 loaded=0 bus=0 on_bus=0");
  BOOST_TEST(run.sim->wait_state({"session=up connection=disconnected version=none", "channel=unoffered"}, 10s,
                                 &state), state);

  // 4. Both back: contact, offers and a bind on the same host session.
  BOOST_REQUIRE(go.go());
  const auto again = run_line(g, "bound-again", 60s);
  BOOST_REQUIRE_MESSAGE(again, "not bound again after reload");
  BOOST_TEST(again->find("driver=hyperv_keyboard") != std::string::npos, *again);
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "channel=open ring=open",
                                  "state=negotiated negotiations=2"}, 10s, &state), state);
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  expect_clean_console(g, run);
  BOOST_TEST(g.console().find("no UNLOAD_RESPONSE") == std::string::npos);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  log_for_the_record(g, *run.sim);
}

namespace {

enum class HowItGoes { kSigterm, kSigkill };

// The shared body of the host-gone cases: bound keyboard, vsp-sim stopped
// the given way, the guest fails every channel and unloads cleanly.
void simulator_goes_away(HowItGoes how) {
  const bool term = how == HowItGoes::kSigterm;
  Run run = boot_with_sim(term ? "vscsim-vmbus-host-stopped" : "vscsim-vmbus-host-killed", host_gone_script(), {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());

  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  std::string state;
  BOOST_REQUIRE_MESSAGE(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=1"}, 10s,
                                            &state), state);
  BOOST_REQUIRE_MESSAGE(run_line(g, "ready", 30s), "no serio port");

  // The host goes: a clean stop exits 0; a kill leaves the guest only the
  // heartbeat to notice it by.
  const auto t0 = std::chrono::steady_clock::now();
  const int st = term ? run.sim->stop() : run.sim->kill_now();
  if (term) {
    BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  } else {
    BOOST_TEST((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL), "vsp-sim status " << st);
  }
  BOOST_TEST(run.sim->ask("state").empty());

  // Every channel failed: the device left the bus and its remove ran.
  const auto gone = run_line(g, "gone", 60s);
  BOOST_REQUIRE_MESSAGE(gone, "the keyboard never left the bus (script stuck?)");
  BOOST_TEST_MESSAGE("host gone to device gone: " << since(t0) << " s; " << *gone);
  BOOST_TEST(gone->rfind("vscsim-run: gone rc=0 on_bus=0 serio_left=0 devices=0 ", 0) == 0, *gone);
  // The guest notices within a few seconds (liveness check every 500 ms;
  // a kill needs 2 s of stalled heartbeat first), TCG included.
  BOOST_TEST(since(t0) < 15.0, "took " << since(t0) << " s");
  BOOST_TEST(g.console().find(term ? "host gone (host stopped)" : "host gone (heartbeat stopped)") !=
                 std::string::npos);

  // Nothing waits on the host any more: both modules unload, the script ends.
  const auto driver = run_line(g, "rmmod-driver", 30s);
  BOOST_REQUIRE_MESSAGE(driver, "rmmod hyperv_keyboard did not return");
  BOOST_TEST(*driver == "vscsim-run: rmmod-driver rc=0 loaded=0");
  const auto bus = run_line(g, "rmmod-bus", 30s);
  BOOST_REQUIRE_MESSAGE(bus, "rmmod vscsim_vmbus did not return");
  BOOST_TEST(*bus == "vscsim-run: rmmod-bus rc=0 loaded=0 bus=0");
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  expect_clean_console(g, run);
  BOOST_TEST(g.console().find("blocked for more than") == std::string::npos);
  // Gone means gone: no UNLOAD sent and waited for.
  BOOST_TEST(g.console().find("no UNLOAD_RESPONSE") == std::string::npos);
  // stop() again only returns what was reaped.
  BOOST_TEST(run.sim->stop() == st);
  log_for_the_record(g, *run.sim);
}

}  // namespace

BOOST_AUTO_TEST_CASE(guest_survives_the_simulator_going_away) { simulator_goes_away(HowItGoes::kSigterm); }

BOOST_AUTO_TEST_CASE(guest_survives_the_simulator_being_killed) { simulator_goes_away(HowItGoes::kSigkill); }

BOOST_AUTO_TEST_CASE(companion_virtual_pci_offer_is_ignored) {
  Run run = boot_with_sim("vscsim-vmbus-blob-vpci", companion_script(), {}, kKeyboardKernelArgs,
                          {"--device", "blob-vpci"});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());

  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  // Both offered (keyboard relid 1, the companion relid 2); only the keyboard opened.
  std::string state;
  BOOST_REQUIRE_MESSAGE(run.sim->wait_state({"connection=offersdelivered", "relid=1 channel=open ring=open",
                                             "state=negotiated negotiations=1"}, 10s, &state), state);
  BOOST_TEST(state.find("relid=2 channel=offered ring=closed kind=blob-vpci opens=0 packets=0") !=
                 std::string::npos, state);

  // Only the keyboard is on the bus: no device for the vPCI offer.
  const auto devices = run_line(g, "devices", 30s);
  BOOST_REQUIRE_MESSAGE(devices, "no device listing");
  BOOST_TEST(*devices == "vscsim-run: devices count=1 keyboards=1 blob=0 vpci=0");
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());
  // Still never opened once the guest settled.
  state = run.sim->ask("state");
  BOOST_TEST(state.find("relid=2 channel=offered ring=closed kind=blob-vpci opens=0 packets=0") !=
                 std::string::npos, state);

  expect_clean_console(g, run);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  log_for_the_record(g, *run.sim);
}

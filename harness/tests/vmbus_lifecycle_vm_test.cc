// Driver and transport lifecycle in a real guest, with Debian's hyperv-keyboard
// bound through vscsim_vmbus to vsp-sim's keyboard (relid 1):
//   - sysfs unbind runs the driver's remove (serio port gone, channel closed
//     on the host) and bind probes again (a second protocol negotiation);
//   - rmmod vscsim_vmbus is refused while hyperv_keyboard uses it; once the
//     driver is gone it succeeds with the device still offered: the bus and
//     the device disappear and the host sees UNLOAD; loading both again
//     reconnects and binds;
//   - the kernel reported no BUG/WARNING/oops.
// Each host-side expectation is read from vsp-sim's `state` while the guest
// script waits for the test's "go" (vmbus_vm_fixture.h), so it checks what the
// host saw, not what the script says it did.
#define BOOST_TEST_MODULE vmbus_lifecycle_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
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

void expect_clean_console(launcher::QemuGuest& g, Run& run) {
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

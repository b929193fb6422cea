// The Azure Blob VSC end to end in a real guest: vsp-sim offers the blob
// device (relid 2, after the keyboard), the guest loads vscsim_vmbus and
// az_blob (plain insmod: az_blob is built against vscsim_vmbus's symbol
// CRCs), and the static `azblob` client and `azblob-inputs` drive it.
//
//   round trips   put/get/stat/ls/rm, byte-exact (cmp), for 0, 1, 4095, 4096,
//                 4097 bytes, 1 MiB and the largest blob the page cap allows;
//                 one byte more fails with EINVAL from the driver
//   bad inputs    azblob-inputs: the errno of each case, no page left pinned
//   concurrency   16 clients at once, each its own blobs, byte-exact
//   two devices   a second blob channel: /dev/azure_blob1, its own store
//   reload        rmmod and insmod with the device bound, then I/O again
//   quiet         no kernel console line from the driver at all, and no
//                 BUG/WARNING/oops (console scanner)
// and, in a second boot, a late answer (the host replies after the caller's
// timeout: counted, harmless, pages released), stray completions (id 0,
// unknown, short: dropped and counted), and removal under load: a request the host holds,
// then a rescind while a process keeps the device open; the request fails
// with ENODEV at once (not at its 30 s timeout), the device goes although
// the file is open, and a reoffer brings a working device back.
//
// The guest side is a busybox sh script (LaunchOptions::run_script) printing
// "vscsim-run: ..." lines; the guest agent of the harness issue replaces it.
#define BOOST_TEST_MODULE az_blob_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <string>

#include "vmbus_vm_fixture.h"
#include "vscsim/checkers/request_accounting.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kBlobModules{"vscsim_vmbus", "az_blob"};
const std::vector<std::string> kBlobSim{"--device", "blob"};
const std::vector<std::string> kTwoBlobsSim{"--device", "blob", "--device", "blob"};
constexpr const char* kBlobRelid = "2";

// Shell helpers for every blob script.
const char* const kPrelude = R"SH(
waitfor() { n=0; while ! eval "$1"; do n=$((n+1)); [ $n -ge "$2" ] && return 1; sleep 0.1; done; }
agent=""
for v in /sys/class/virtio-ports/*; do [ "$(cat "$v/name" 2>/dev/null)" = org.vscsim.agent.0 ] && agent=/dev/${v##*/}; done
wait_go() { n=0; while ! read -r _ <"$agent"; do n=$((n+1)); [ $n -ge 600 ] && return 1; sleep 0.1; done; }
# roundtrip NAME SIZE: put SIZE random bytes, get them back, compare, stat.
roundtrip() {
  head -c "$2" /dev/urandom >/tmp/in.$1
  if azblob put "c1/$1" /tmp/in.$1 && azblob get "c1/$1" /tmp/out.$1 && cmp /tmp/in.$1 /tmp/out.$1; then
    echo "roundtrip $1 size=$2 ok stat=[$(azblob stat "c1/$1" | tr '\n' ' ')]"
  else
    echo "roundtrip $1 size=$2 FAIL"
  fi
  rm -f /tmp/in.$1 /tmp/out.$1
}
pinned() { cat /sys/kernel/debug/az_blob/pinned_pages; }
)SH";

std::string round_trip_script() {
  return std::string(kPrelude) + R"SH(
waitfor '[ -c /dev/azure_blob ] && [ -c /dev/azure_blob1 ]' 300 || { echo "no-device $(ls /dev | grep azure)"; exit 1; }
echo "device $(ls /sys/kernel/debug/az_blob/ | tr '\n' ' ')"
azblob mkc c1 || { echo "mkc FAIL"; exit 1; }
# The second device is a device of its own: its own store, its own node.
head -c 5000 /dev/urandom >/tmp/second
azblob --device /dev/azure_blob1 mkc c9 && azblob --device /dev/azure_blob1 put c9/s /tmp/second &&
  azblob --device /dev/azure_blob1 get c9/s /tmp/second.out && cmp /tmp/second /tmp/second.out &&
  echo "second-device ok first-sees=[$(azblob ls | tr '\n' ' ')]" || echo "second-device FAIL"
for n in 0 1 4095 4096 4097 1048576; do roundtrip "b$n" "$n"; done
max=$(azblob limits | sed -n 's/^max-put-bytes //p')
roundtrip max "$max"
head -c $((max + 1)) /dev/zero >/tmp/over
azblob put c1/over /tmp/over 2>/tmp/over.err; echo "over-cap rc=$? err=[$(cat /tmp/over.err)]"
rm -f /tmp/over /tmp/over.err
echo "ls [$(azblob ls c1 | tr '\n' ' ')]"
for n in 0 1 4095 4096 4097 1048576; do azblob rm "c1/b$n" || echo "rm b$n FAIL"; done
azblob rm c1/max || echo "rm max FAIL"
echo "ls-after-rm [$(azblob ls c1 | tr '\n' ' ')]"
azblob-inputs
echo "inputs rc=$?"
# 16 clients at once, each writing and reading its own blobs four times.
i=0
while [ $i -lt 16 ]; do
  ( j=0; while [ $j -lt 4 ]; do
      head -c $((65536 + i * 4096 + j)) /dev/urandom >/tmp/c$i
      azblob put "c1/t$i" /tmp/c$i && azblob get "c1/t$i" /tmp/d$i && cmp /tmp/c$i /tmp/d$i || exit 1
      j=$((j + 1))
    done ) >/tmp/log$i 2>&1 &
  i=$((i + 1))
done
bad=0; for p in $(jobs -p); do wait "$p" || bad=$((bad + 1)); done
echo "concurrent clients=16 failed=$bad"
[ "$bad" = 0 ] || cat /tmp/log*
echo "stats [$(cat /sys/kernel/debug/az_blob/*/stats | tr '\n' ' ')] pinned=$(pinned)"
# Unload and reload with the device bound.
rmmod az_blob; echo "rmmod rc=$? node=$([ -e /dev/azure_blob ] && echo present || echo gone)"
insmod /lib/vscsim/az_blob.ko; echo "insmod rc=$?"
waitfor '[ -c /dev/azure_blob ]' 100 || { echo "no-device-after-reload"; exit 1; }
roundtrip reload 12345
echo "done pinned=$(pinned)"
)SH";
}

std::string removal_script() {
  return std::string(kPrelude) + R"SH(
waitfor '[ -c /dev/azure_blob ]' 300 || { echo "no-device"; exit 1; }
azblob mkc c1 && head -c 8192 /dev/urandom >/tmp/x && azblob put c1/x /tmp/x || { echo "setup FAIL"; exit 1; }
stats() { cat /sys/kernel/debug/az_blob/*/stats | tr '\n' ' '; }
echo "late-ready"
wait_go
# The host answers 3 s late whatever the 1 s timeout says: the caller gives up,
# the late answer lands in pages still pinned, and then they are released.
azblob --timeout 1000 get c1/x /tmp/late 2>/tmp/late.err; echo "late-get rc=$? err=[$(cat /tmp/late.err)]"
waitfor 'stats | grep -q "late_completions 1 "' 100 && waitfor '[ "$(pinned)" = 0 ]' 50
echo "late-done pinned=$(pinned) stats=[$(stats)]"
echo "inject-ready"
wait_go
waitfor 'stats | grep -q "bad_ids 3 "' 100
echo "inject-done stats=[$(stats)]"
azblob get c1/x /tmp/after && cmp /tmp/x /tmp/after && echo "inject-io ok" || echo "inject-io FAIL"
exec 3</dev/azure_blob
echo "holding"
wait_go
azblob --timeout 30000 get c1/x /tmp/y 2>/tmp/get.err &
getpid=$!
waitfor 'grep -q "age_ms" /sys/kernel/debug/az_blob/*/pending' 100 && echo "in-flight"
wait $getpid; echo "get-done rc=$? err=[$(cat /tmp/get.err)]"
waitfor '[ ! -e /dev/azure_blob ]' 100 && echo "gone held=$(ls -l /proc/$$/fd/3 | sed 's/.*-> //') pinned=$(pinned)"
exec 3<&-
wait_go
waitfor '[ -c /dev/azure_blob ]' 300 || { echo "no-device-after-reoffer"; exit 1; }
# The store lives in the simulator: what was put before the rescind is still there.
azblob get c1/x /tmp/z && cmp /tmp/x /tmp/z && echo "back ok" || echo "back FAIL"
)SH";
}

// A "vscsim-run: <word> ..." line, or a failure that says which.
std::string need(launcher::Guest& g, const std::string& word, std::chrono::seconds timeout) {
  const auto line = run_line(g, word, timeout);
  BOOST_REQUIRE_MESSAGE(line, "the guest never printed '" << word << "'");
  return *line;
}

// The driver is quiet: no kernel line on the console names it.
void check_quiet(const std::string& console) {
  std::istringstream lines(console);
  for (std::string l; std::getline(lines, l);) {
    const bool kernel_line = l.rfind("[", 0) == 0 && l.find("ommand line:") == std::string::npos;
    if (kernel_line && (l.find("az_blob") != std::string::npos || l.find("azure_blob") != std::string::npos)) {
      BOOST_ERROR("the driver printed: " << l);
    }
  }
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The simulator's packet trace, accounted (only the blob channels: relid 1 is
// the keyboard, whose protocol never sends completions).
checkers::AccountingReport accounting(launcher::Guest& g, const SimProcess& sim,
                                      const std::set<std::uint32_t>& relids) {
  const auto path = g.run_dir() / "trace.jsonl";
  const std::string answer = sim.ask("trace-dump " + path.string());
  BOOST_REQUIRE_MESSAGE(answer.rfind("ok ", 0) == 0, answer);
  auto r = checkers::account_requests(read_file(path), relids);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_TEST_MESSAGE("request accounting: " << r->summary());
  for (const auto& f : r->findings) BOOST_TEST_MESSAGE("  " << f);
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trips_bad_inputs_concurrency_and_reload) {
  Run run = boot_with_sim("vscsim-az-blob", round_trip_script(), {}, {}, kTwoBlobsSim, kBlobModules);
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());

  const std::string device = need(g, "device", 60s);
  BOOST_TEST_MESSAGE(device);
  // Two devices: two debugfs directories besides pinned_pages.
  BOOST_TEST(std::count(device.begin(), device.end(), '-') >= 8, device);
  const std::string second = need(g, "second-device", 60s);
  BOOST_TEST(has(second, "second-device ok first-sees=["), second);
  BOOST_TEST(!has(second, "c9"), "the first device sees the second's container: " << second);
  for (const char* n : {"0", "1", "4095", "4096", "4097", "1048576"}) {
    const std::string line = need(g, std::string("roundtrip b") + n, 120s);
    BOOST_TEST(has(line, std::string("size=") + n + " ok"), line);
  }
  const std::string max = need(g, "roundtrip max", 300s);
  BOOST_TEST(has(max, " ok"), max);
  BOOST_TEST_MESSAGE(max);
  const std::string over = need(g, "over-cap", 120s);
  // The client refuses what cannot fit (the driver's own EINVAL at the exact
  // cap is azblob-inputs' cap-plus-one-byte case).
  BOOST_TEST(has(over, "rc=1"), over);
  BOOST_TEST(has(over, "page limit"), over);
  const std::string ls = need(g, "ls ", 30s);
  for (const char* n : {"b0", "b1", "b4095", "b4096", "b4097", "b1048576", "max"}) {
    BOOST_TEST(has(ls, n), "ls misses " << n << ": " << ls);
  }
  BOOST_TEST(!has(ls, "over"), ls);
  BOOST_TEST(need(g, "ls-after-rm", 60s) == "vscsim-run: ls-after-rm []");

  const std::string inputs = need(g, "inputs rc=", 60s);
  BOOST_TEST(inputs == "vscsim-run: inputs rc=0");
  BOOST_TEST(!has(g.console(), "azblob-inputs: FAIL"));
  BOOST_TEST(has(g.console(), "azblob-inputs: pinned_pages=0"));

  const std::string conc = need(g, "concurrent", 300s);
  BOOST_TEST(conc == "vscsim-run: concurrent clients=16 failed=0");
  const std::string stats = need(g, "stats", 30s);
  BOOST_TEST_MESSAGE(stats);
  BOOST_TEST(has(stats, "pinned=0"), stats);
  BOOST_TEST(has(stats, "timeouts 0 late_completions 0 failed_on_removal 0 bad_ids 0 bad_packets 0 busy 0"),
             stats);

  BOOST_TEST(need(g, "rmmod", 60s) == "vscsim-run: rmmod rc=0 node=gone");
  BOOST_TEST(need(g, "insmod", 30s) == "vscsim-run: insmod rc=0");
  BOOST_TEST(has(need(g, "roundtrip reload", 60s), "ok"));
  BOOST_TEST(need(g, "done", 30s) == "vscsim-run: done pinned=0");
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  std::string state;
  BOOST_TEST(run.sim->wait_state({"kind=blob", "channel=open"}, 5s, &state), state);
  // Every request the driver sent was answered exactly once, ids never reused in flight.
  const auto acc = accounting(g, *run.sim, {2, 3});
  BOOST_TEST(acc.requests > 200u);
  BOOST_TEST(acc.completions == acc.requests);
  BOOST_TEST(acc.unanswered == 0u);
  BOOST_TEST(acc.stray_completions == 0u);
  BOOST_TEST(acc.guest_clean(), acc.summary());
  BOOST_TEST(!acc.truncated);
  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  check_quiet(g.console());
  // Loaded plainly: the CRCs match vscsim_vmbus's exports, no forcing.
  BOOST_TEST(has(g.console(), "vscsim-init: loaded az_blob"));
  BOOST_TEST(!has(g.console(), "disagrees about version of symbol"));
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  log_for_the_record(g, *run.sim);
}

BOOST_AUTO_TEST_CASE(rescind_fails_the_request_in_flight_and_does_not_wait_for_open_files) {
  Run run = boot_with_sim("vscsim-az-blob-rescind", removal_script(), {}, {}, kBlobSim, kBlobModules);
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  GoLine go(g);

  // Catalogue item 2: a late completion after the caller timed out.
  need(g, "late-ready", 120s);
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-delay ") + kBlobRelid + " 3000 late"), "ok");
  BOOST_REQUIRE(go.go());
  const std::string late = need(g, "late-get", 60s);
  BOOST_TEST(has(late, "rc=1"), late);
  BOOST_TEST(has(late, "ETIMEDOUT"), late);
  const std::string late_done = need(g, "late-done", 60s);
  BOOST_TEST_MESSAGE(late_done);
  BOOST_TEST(has(late_done, "pinned=0 "), late_done);
  BOOST_TEST(has(late_done, "timeouts 1 late_completions 1 "), late_done);

  // Completions nobody asked for: id 0, an id never issued, a short one with
  // a free id. The driver drops and counts them (VMBUS_RQST_ERROR from the
  // requestor table) and goes on working.
  need(g, "inject-ready", 60s);
  for (const char* inject : {" 0", " 424242", " 1 4"}) {
    BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-inject ") + kBlobRelid + inject), "ok");
  }
  BOOST_REQUIRE(go.go());
  const std::string injected = need(g, "inject-done", 60s);
  BOOST_TEST(has(injected, "bad_ids 3 bad_packets 0 "), injected);
  BOOST_TEST(need(g, "inject-io", 60s) == "vscsim-run: inject-io ok");

  need(g, "holding", 60s);
  // The host sits on the next request (longer than its 30 s timeout).
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-delay ") + kBlobRelid + " 120000"), "ok");
  BOOST_REQUIRE(go.go());
  need(g, "in-flight", 30s);
  const auto rescind_at = std::chrono::steady_clock::now();
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("rescind ") + kBlobRelid), "ok");
  const std::string done = need(g, "get-done", 60s);
  const double failed_after = since(rescind_at);
  BOOST_TEST_MESSAGE(done << " (" << failed_after << " s after the rescind)");
  BOOST_TEST(has(done, "rc=1"), done);
  BOOST_TEST(has(done, "ENODEV"), done);
  // Failed by the removal, not by the 30 s timeout.
  BOOST_TEST(failed_after < 15.0);
  const std::string gone = need(g, "gone", 30s);
  BOOST_TEST(has(gone, "held=/dev/azure_blob"), gone);
  BOOST_TEST(has(gone, "pinned=0"), gone);
  std::string state;
  BOOST_TEST(run.sim->wait_state({"released=1"}, 10s, &state), state);

  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("blob-delay ") + kBlobRelid + " 0"), "ok");
  BOOST_REQUIRE_EQUAL(run.sim->ask(std::string("reoffer ") + kBlobRelid), "ok");
  BOOST_REQUIRE(go.go());
  BOOST_TEST(need(g, "back", 60s) == "vscsim-run: back ok");
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());
  // The trace agrees: the three injected completions are the only strays, the
  // held request was open at the rescind, and nothing went out after it.
  const auto acc = accounting(g, *run.sim, {2});
  BOOST_TEST(acc.stray_completions == 3u, acc.summary());
  BOOST_TEST(acc.unanswered_at_rescind == 1u, acc.summary());
  BOOST_TEST(acc.unanswered == 0u, acc.summary());
  BOOST_TEST(acc.guest_clean(), acc.summary());

  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  check_quiet(g.console());
  log_for_the_record(g, *run.sim);
}

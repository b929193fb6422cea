// Which of Debian's prebuilt VSC modules load against vscsim_vmbus's exports
// (the table in docs/guest.md): for hyperv_keyboard, hv_utils and hv_storvsc
// (storvsc's SCSI dependencies loaded plainly first), the guest tries a plain
// insmod, then a forced one (insmod-force, modversions ignored), then rmmod.
// Today every plain load is refused on a modversion CRC and every forced load
// works; when the transport's CRCs match, the plain expectation fails and the
// table must change with it. vsp-sim offers the keyboard, so the bus is live.
#define BOOST_TEST_MODULE vmbus_upstream_modules_vm
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "vmbus_vm_fixture.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;

namespace {

// One "module <m> plain=<rc> refused=<first symbol refused> forced=<rc>
// loaded=<0|1> rmmod=<rc>" line per module.
constexpr const char* kScript = R"SH(
x=/lib/vscsim/kmods/extra
for m in scsi_common scsi_mod scsi_transport_fc; do insmod "$x/$m.ko" || echo "dep-failed $m"; done
for m in hyperv_keyboard hv_utils hv_storvsc; do
	insmod "$x/$m.ko" 2>/dev/null
	p=$?
	[ $p = 0 ] && rmmod "$m"
	refused=$(dmesg | grep "$m: disagrees about version of symbol" | head -n 1 | sed 's/.*symbol //')
	insmod-force "$x/$m.ko" >/dev/null
	f=$?
	l=$(grep -c "^$m " /proc/modules)
	rmmod "$m"
	echo "module $m plain=$p refused=$refused forced=$f loaded=$l rmmod=$?"
done
)SH";

}  // namespace

BOOST_AUTO_TEST_CASE(debian_vscs_load_only_forced) {
  Run run = boot_with_sim("vscsim-vmbus-upstream", kScript, {}, {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());

  for (const char* m : {"hyperv_keyboard", "hv_utils", "hv_storvsc"}) {
    const auto line = run_line(g, std::string("module ") + m + " ", 60s);
    BOOST_REQUIRE_MESSAGE(line, "no result for " << m);
    BOOST_TEST_MESSAGE(*line);
    BOOST_TEST(line->find(" plain=0 ") == std::string::npos, *line);
    BOOST_TEST(line->find(" refused= ") == std::string::npos, *line);  // a CRC refused it
    BOOST_TEST(line->find(" forced=0 loaded=1 rmmod=0") != std::string::npos, *line);
  }
  BOOST_TEST(run_line(g, "exit=0", 30s).has_value());
  BOOST_TEST(g.console().find("dep-failed") == std::string::npos);
  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  log_for_the_record(g, *run.sim);
}

#define BOOST_TEST_MODULE console_scanner
#include "vscsim/checkers/console_scanner.h"

#include <boost/test/unit_test.hpp>

using vscsim::checkers::scan_console;

BOOST_AUTO_TEST_CASE(clean_boot_log_has_no_findings) {
  const auto f = scan_console(
      "[    0.000000] Linux version 6.1.0-50-cloud-amd64\n"
      "[    1.956084] vsc_smoke: loading out-of-tree module taints kernel.\n"
      "vscsim-init: ready\n");
  BOOST_TEST(f.empty());
}

BOOST_AUTO_TEST_CASE(warning_is_found_with_its_line_number) {
  const auto f = scan_console(
      "[    1.957426] vsc_smoke: loaded\n"
      "[    1.958183] WARNING: CPU: 0 PID: 92 at vsc_smoke.c:19 vsc_smoke_init+0x2d/0x1000\r\n");
  BOOST_TEST_REQUIRE(f.size() == 1u);
  BOOST_TEST(f[0].kind == "WARNING");
  BOOST_TEST(f[0].line_number == 2u);
}

BOOST_AUTO_TEST_CASE(each_kernel_report_kind_is_recognised) {
  struct Case { const char* line; const char* kind; };
  const Case cases[] = {
      {"[    5.1] BUG: kernel NULL pointer dereference, address: 0000000000000008", "BUG"},
      {"[    5.1] kernel BUG at drivers/hv/channel.c:42!", "BUG"},
      {"[    5.1] BUG: KASAN: use-after-free in az_blob_ioctl+0x1/0x2", "KASAN"},
      {"[    5.1] BUG: KFENCE: use-after-free read in foo", "KFENCE"},
      {"[    5.1] general protection fault, probably for non-canonical address", "general protection fault"},
      {"[    5.1] Oops: 0000 [#1] PREEMPT SMP NOPTI", "Oops"},
      {"[    5.1] Kernel panic - not syncing: Fatal exception", "Oops"},
      {"[  125.0] INFO: task vsc-agent:97 blocked for more than 10 seconds.", "hung task"},
      {"[   60.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "RCU stall"},
      {"[   60.0] rcu: INFO: rcu_sched self-detected stall on CPU", "RCU stall"},
      {"[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [kworker/0:1:12]", "soft lockup"},
      {"[    9.0] WARNING: possible circular locking dependency detected", "lockdep"},
      {"[    9.0] BUG: sleeping function called from invalid context at mm/slab.h:1", "lockdep"},
      {"[    9.0] UBSAN: array-index-out-of-bounds in drivers/foo.c:1:2", "UBSAN"},
  };
  for (const auto& c : cases) {
    const auto f = scan_console(c.line);
    BOOST_TEST_REQUIRE(f.size() == 1u, c.line);
    BOOST_TEST(f[0].kind == c.kind, c.line);
  }
}

BOOST_AUTO_TEST_CASE(user_space_text_and_command_line_are_not_kernel_reports) {
  const auto f = scan_console(
      "BUG: this line was echoed by user space\n"
      "[    0.0] Kernel command line: console=ttyS0 note=WARNING:\n"
      "[not a timestamp] WARNING: nope\n"
      "[    3.0] INFO: task list printed for debugging\n"
      "[    3.0] rcu: INFO: rcu_sched grace-period kthread starting\n");
  BOOST_TEST(f.empty());
}

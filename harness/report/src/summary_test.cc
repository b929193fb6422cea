#include "vscsim/report/summary.h"

#include <boost/test/unit_test.hpp>

#include "sample_report_for_test.h"

namespace {

using namespace vscsim::report;
using vscsim::report::testing::sample_report;

BOOST_AUTO_TEST_CASE(summary_is_a_table_then_totals_then_how_to_rerun_failures) {
  auto report = sample_report();
  report.mutable_result(1)->clear_console_excerpt();
  const auto text = to_summary(report);
  BOOST_TEST_MESSAGE(text);
  const std::string expected =
      "scenario                  seed  status   duration  checker\n"
      "probe                     111   PASS        1.2 s\n"
      "rescind_with_open_file#1  222   FAIL        4.2 s  expectation\n"
      "neg_console_warning       333   PASS        3.0 s  console (expected)\n"
      "io                        444   ERROR      60.0 s\n"
      "unbind_bind               555   SKIPPED     0.0 s\n"
      "\n"
      "5 runs: 2 passed, 1 failed, 1 error, 1 skipped in 42.5 s (run seed 1234)\n"
      "\n"
      "not passed:\n"
      "  rescind_with_open_file#1 FAIL (expectation): after_rescind: expected ENODEV, got success <&>\n"
      "    rerun: vsc-harness run --filter rescind_with_open_file --seed 5678\n"
      "  io ERROR: the guest did not boot\n"
      "    rerun: vsc-harness run --filter io --seed 1234\n";
  BOOST_TEST(text == expected);
}

BOOST_AUTO_TEST_CASE(summary_of_a_clean_run_has_no_rerun_section) {
  RunReport report;
  report.set_run_seed(9);
  auto* r = report.add_result();
  r->set_name("probe");
  r->set_status(ScenarioResult::PASS);
  const auto text = to_summary(report);
  BOOST_TEST(text.find("1 run: 1 passed, 0 failed, 0 errors, 0 skipped") != std::string::npos, text);
  BOOST_TEST(text.find("rerun") == std::string::npos);
}

}  // namespace

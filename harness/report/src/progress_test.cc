#include "vscsim/report/progress.h"

#include <boost/test/unit_test.hpp>
#include <sstream>

#include "sample_report_for_test.h"

namespace {

using namespace vscsim::report;
using namespace std::chrono_literals;
using vscsim::report::testing::sample_report;
using Clock = ProgressLine::Clock;

BOOST_AUTO_TEST_CASE(terminal_line_is_rewritten_with_counts_and_the_running_time) {
  const auto report = sample_report();
  std::ostringstream out;
  ProgressLine progress(out, ProgressLine::Mode::kRewrite, 12);
  const Clock::time_point t0{};
  progress.started("probe", t0);
  progress.finished(report.result(0), t0 + 1s);
  progress.started("x", t0 + 1s);
  progress.finished(report.result(0), t0 + 2s);
  progress.started("y", t0 + 2s);
  progress.finished(report.result(1), t0 + 3s);
  out.str("");
  progress.started("rescind_with_open_file", t0 + 3s);
  progress.tick(t0 + 3s + 4200ms);
  BOOST_TEST(out.str() ==
             "\r\033[K[3/12] 2 passed 1 failed \u00b7 running rescind_with_open_file (0.0 s)"
             "\r\033[K[3/12] 2 passed 1 failed \u00b7 running rescind_with_open_file (4.2 s)");
  out.str("");
  progress.done();
  BOOST_TEST(out.str() == "\n");
}

BOOST_AUTO_TEST_CASE(terminal_keeps_a_line_for_what_did_not_pass) {
  const auto report = sample_report();
  std::ostringstream out;
  ProgressLine progress(out, ProgressLine::Mode::kRewrite, 5);
  progress.started("rescind_with_open_file#1", Clock::time_point{});
  out.str("");
  progress.finished(report.result(1), Clock::time_point{} + 5s);
  BOOST_TEST(out.str() ==
             "\r\033[KFAIL rescind_with_open_file#1 seed 222 4.2 s expectation: after_rescind: expected ENODEV, "
             "got success <&>\n"
             "\r\033[K[1/5] 0 passed 1 failed");
}

BOOST_AUTO_TEST_CASE(terminal_line_is_cut_to_the_width) {
  std::ostringstream out;
  ProgressLine progress(out, ProgressLine::Mode::kRewrite, 1, 30);
  progress.started("a_scenario_with_a_very_long_name", Clock::time_point{});
  const auto line = out.str().substr(4);  // after "\r\033[K"
  BOOST_TEST(line == "[0/1] 0 passed \u00b7 running a_s\u2026");  // 29 code points: one column spare
}

BOOST_AUTO_TEST_CASE(log_mode_prints_one_line_per_finished_iteration) {
  const auto report = sample_report();
  std::ostringstream out;
  ProgressLine progress(out, ProgressLine::Mode::kLines, 5);
  progress.started("probe", Clock::time_point{});
  progress.tick(Clock::time_point{} + 1s);
  BOOST_TEST(out.str().empty());
  for (const auto& r : report.result()) progress.finished(r, Clock::time_point{});
  progress.done();
  BOOST_TEST(out.str() ==
             "[1/5] PASS probe seed 111 1.2 s\n"
             "[2/5] FAIL rescind_with_open_file#1 seed 222 4.2 s expectation: after_rescind: expected ENODEV, got "
             "success <&>\n"
             "[3/5] PASS neg_console_warning seed 333 3.0 s\n"
             "[4/5] ERROR io seed 444 60.0 s: the guest did not boot\n"
             "[5/5] SKIPPED unbind_bind seed 555 0.0 s: an earlier scenario failed (no --keep-going)\n");
}

BOOST_AUTO_TEST_CASE(a_pipe_is_not_a_terminal) {
  int fds[2];
  BOOST_TEST_REQUIRE(pipe(fds) == 0);
  BOOST_TEST((ProgressLine::mode_for(fds[1]) == ProgressLine::Mode::kLines));
  close(fds[0]);
  close(fds[1]);
}

}  // namespace

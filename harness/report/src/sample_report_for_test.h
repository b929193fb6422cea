// Test helper: a run report with one iteration of every status, a negative
// control, steps, trace events and a console excerpt full of awkward bytes.
#pragma once

#include "vscsim/report.pb.h"

namespace vscsim::report::testing {

// Guest console bytes a writer must survive: markup, a BEL and an ESC,
// a byte that is not UTF-8, a CR, and non-ASCII text.
inline constexpr char kAwkwardConsole[] =
    "[ 1.0] <az_blob> & \"quoted\" 'single'\x07\x1b[0m\n[ 1.1] bad byte \xff here\r\n[ 1.2] gr\xc3\xbc\xc3\x9f";

inline RunReport sample_report() {
  RunReport report;
  report.set_run_seed(1234);
  report.mutable_start_time()->set_seconds(1700000000);  // 2023-11-14T22:13:20Z
  report.set_duration_s(42.5);
  report.set_command_line("vsc-harness run --seed 1234");
  report.mutable_host()->set_hostname("ci-1");
  report.mutable_host()->set_accel("tcg");
  report.mutable_kernel()->set_release("6.1.0-50-cloud-amd64");
  report.mutable_options()->set_repeat(2);
  report.mutable_options()->set_shard_count(1);

  auto* probe = report.add_result();
  probe->set_name("probe");
  probe->set_seed(111);
  probe->set_round_seed(1234);
  probe->set_status(ScenarioResult::PASS);
  probe->set_start_s(1.0);
  probe->set_duration_s(1.25);
  auto* open = probe->add_step();
  open->set_name("main#0");
  open->set_actor("main");
  open->set_process("main");
  open->set_kind("open");
  open->set_start_s(0.1);
  open->set_end_s(0.3);
  open->set_verdict(StepResult::MET);
  auto* rescind = probe->add_step();
  rescind->set_name("host#0");
  rescind->set_actor("host");
  rescind->set_kind("rescind");
  rescind->set_start_s(0.2);
  rescind->set_end_s(0.2005);
  rescind->set_verdict(StepResult::NO_EXPECTATION);
  auto* offer = probe->add_event();
  offer->set_lane("channel:blob0");
  offer->set_name("offer");
  offer->set_category("channel");
  offer->set_start_s(0.05);
  offer->set_instant(true);
  (*offer->mutable_args())["relid"] = "1";
  auto* open_span = probe->add_event();
  open_span->set_lane("channel:blob0");
  open_span->set_name("open");
  open_span->set_category("channel");
  open_span->set_start_s(0.1);
  open_span->set_duration_s(0.15);

  auto* rescinded = report.add_result();
  rescinded->set_name("rescind_with_open_file");
  rescinded->set_iteration(1);
  rescinded->set_seed(222);
  rescinded->set_round_seed(5678);
  rescinded->set_path("scenarios/rescind_with_open_file.textproto");
  rescinded->set_status(ScenarioResult::FAIL);
  rescinded->set_checker("expectation");
  rescinded->set_message("after_rescind: expected ENODEV, got success <&>");
  rescinded->set_start_s(2.5);
  rescinded->set_duration_s(4.2);
  rescinded->set_console_excerpt(kAwkwardConsole);  // not UTF-8: JSON tests replace it
  auto* late = rescinded->add_step();
  late->set_name("after_rescind");
  late->set_actor("main");
  late->set_kind("blob");
  late->set_start_s(1.0);
  late->set_end_s(1.5);
  late->set_verdict(StepResult::NOT_MET);
  late->set_detail("expected ENODEV, got success");
  auto* never = rescinded->add_step();
  never->set_name("main#4");
  never->set_actor("main");
  never->set_kind("close");
  never->set_verdict(StepResult::NOT_RUN);

  auto* control = report.add_result();
  control->set_name("neg_console_warning");
  control->set_seed(333);
  control->set_round_seed(1234);
  control->set_status(ScenarioResult::PASS);
  control->set_expected_checker("console");
  control->set_duration_s(3.0);

  auto* broken = report.add_result();
  broken->set_name("io");
  broken->set_seed(444);
  broken->set_round_seed(1234);
  broken->set_status(ScenarioResult::ERROR);
  broken->set_message("the guest did not boot");
  broken->set_duration_s(60.0);

  auto* skipped = report.add_result();
  skipped->set_name("unbind_bind");
  skipped->set_seed(555);
  skipped->set_round_seed(1234);
  skipped->set_status(ScenarioResult::SKIPPED);
  skipped->set_message("an earlier scenario failed (no --keep-going)");
  return report;
}

}  // namespace vscsim::report::testing

#define BOOST_TEST_MODULE scenario
#include "vscsim/scenario/load.h"

#include <boost/test/unit_test.hpp>

#include "test_files.h"

namespace {

using vscsim::scenario::LoadError;
using vscsim::scenario::load_scenario;
using vscsim::scenario::testing::errors_of;
using vscsim::scenario::testing::TempDir;

// A malformed file and the one error it must produce.
struct Malformed {
  const char* file;  // base name: the scenario name unless the case is about names
  const char* text;
  int line;
  int column;  // 0: not checked
  const char* field;
  const char* message;  // a part of the message
};

// Line numbers count from the first line of each text.
const Malformed kMalformed[] = {
    {"bad_errno", R"(name: "bad_errno"
thread {
  name: "main"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step {
    op { close { slot: "s" } }
    expect { errno_name: "ENODEVV" }
  }
})",
     7, 14, "thread[0].step[1].expect.errno_name", "unknown errno name \"ENODEVV\""},

    {"bad_any_errno", R"(name: "bad_any_errno"
thread {
  name: "main"
  step {
    op { open { path: "/dev/x" slot: "s" } }
    expect { any_errno: "ENOENT" any_errno: "EWHAT" }
  }
})",
     6, 34, "thread[0].step[0].expect.any_errno[1]", "unknown errno name \"EWHAT\""},

    {"syntax", R"(name: "syntax"
thread {
  name: "main"
  step { op { opn { path: "/dev/x" } } }
})",
     4, 19, "", "no field named \"opn\""},

    {"unclosed", R"(name: "unclosed"
thread {
  name: "main"
)",
     4, 0, "", "Expected identifier"},

    {"op_and_barrier", R"(name: "op_and_barrier"
thread {
  name: "main"
  step { barrier: "b" op { sleep { ms: 1 } } }
})",
     4, 26, "", "oneof"},

    {"other_name", R"(name: "not_the_file_name")", 1, 1, "name",
     "\"not_the_file_name\" differs from the file's base name \"other_name\""},

    {"Upper", R"(name: "Upper")", 1, 1, "name", "must match [a-z0-9_-]+"},

    {"no_name", R"(description: "forgot the name")", 0, 0, "name", "must be set"},

    {"same_device", R"(name: "same_device"
setup {
  device { name: "blob0" kind: "blob" }
  device { name: "blob0" kind: "keyboard" }
})",
     4, 12, "setup.device[1].name", "device \"blob0\" is declared twice"},

    {"device_kind", R"(name: "device_kind"
setup {
  device { name: "d" kind: "floppy" }
})",
     3, 22, "setup.device[0].kind", "unknown device kind \"floppy\" (kinds: blob, keyboard, blob-vpci)"},

    {"param_module", R"(name: "param_module"
setup {
  param { key: "az_blob.timeout_ms" value: "100" }
  param { key: "storvsc.ring_size" value: "1" }
})",
     4, 11, "setup.param[1].key", "module \"storvsc\" is not loaded by setup.module"},

    {"quiet_unloaded", R"(name: "quiet_unloaded"
quiet { module: "az_blob" module: "storvsc" })",
     2, 27, "quiet.module[1]", "module \"storvsc\" is not loaded in the scenario"},

    {"quiet_twice", R"(name: "quiet_twice"
quiet {
  module: "az_blob"
  module: "az_blob"
})",
     4, 3, "quiet.module[1]", "module \"az_blob\" is listed twice"},

    {"quiet_empty_name", R"(name: "quiet_empty_name"
quiet { module: "" })",
     2, 9, "quiet.module[0]", "must be set"},

    {"quiet_nothing", R"(name: "quiet_nothing"
quiet { max_lines: 2 })",
     2, 1, "quiet", "names no module"},

    {"empty_step", R"(name: "empty_step"
thread {
  name: "main"
  step { name: "nothing" }
})",
     4, 3, "thread[0].step[0]", "a guest step needs an op or a barrier"},

    {"expect_on_barrier", R"(name: "expect_on_barrier"
thread {
  name: "a"
  step { barrier: "b" expect { errno_name: "EIO" } }
}
host { step { barrier: "b" } })",
     4, 23, "thread[0].step[0].expect", "only operation steps have expectations"},

    {"data_of_unknown", R"(name: "data_of_unknown"
thread {
  name: "main"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step {
    op { blob { slot: "s" } }
    expect { data_of: "put" }
  }
})",
     7, 14, "thread[0].step[1].expect.data_of", "no step is named \"put\""},

    {"data_of_later", R"(name: "data_of_later"
thread {
  name: "main"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step {
    op { blob { slot: "s" } }
    expect { data_of: "put" }
  }
  step { name: "put" op { blob { slot: "s" } } }
})",
     7, 14, "thread[0].step[1].expect.data_of", "step \"put\" is not ordered before this one"},

    {"data_of_unordered_thread", R"(name: "data_of_unordered_thread"
thread {
  name: "a"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step { name: "put" op { blob { slot: "s" } } }
}
thread {
  name: "b"
  step { op { open { path: "/dev/x" slot: "t" } } }
  step {
    op { blob { slot: "t" } }
    expect { data_of: "put" }
  }
})",
     12, 14, "thread[1].step[1].expect.data_of", "step \"put\" is not ordered before this one"},

    {"same_step_name", R"(name: "same_step_name"
thread {
  name: "main"
  step { name: "x" op { sleep { ms: 1 } } }
  step { name: "x" op { sleep { ms: 1 } } }
})",
     5, 10, "thread[0].step[1].name", "step name \"x\" is already used by thread[0].step[0]"},

    {"host_device", R"(name: "host_device"
host {
  step { sleep_ms: 10 }
  step { rescind { device: "blob1" } }
})",
     4, 20, "host.step[1].rescind.device", "unknown device \"blob1\" (declared: blob0)"},

    {"fault_device", R"(name: "fault_device"
setup { device { name: "kbd" kind: "keyboard" } }
faults {
  rule { device: "blob0" drop_completion: true }
})",
     4, 10, "faults.rule[0].device", "unknown device \"blob0\" (declared: kbd)"},

    {"fault_action", R"(name: "fault_action"
faults {
  rule { device: "blob0" count: 2 }
})",
     3, 3, "faults.rule[0]", "names no action"},

    {"fault_false", R"(name: "fault_false"
faults {
  rule { device: "blob0" count: 1 fail_open: true }
  rule { device: "blob0" drop_completion: false }
})",
     4, 26, "faults.rule[1].drop_completion", "is false: a rule acts only when its action is true"},

    {"fault_no_delay", R"(name: "fault_no_delay"
faults { rule { device: "blob0" delay_ms: 0 } })",
     2, 33, "faults.rule[0].delay_ms", "must be above 0"},

    {"fault_flood_too_long", R"(name: "fault_flood_too_long"
faults { rule { device: "blob0" flood_ms: 600001 } })",
     2, 33, "faults.rule[0].flood_ms", "must be at most 600000"},

    {"fault_unknown_operation", R"(name: "fault_unknown_operation"
faults { rule { device: "blob0" operation: "putt" delay_ms: 5 } })",
     2, 33, "faults.rule[0].operation", "unknown blob operation \"putt\" (create_container, delete_container, put, get, list, stat, delete)"},

    {"fault_operation_not_completion", R"(name: "fault_operation_not_completion"
faults { rule { device: "blob0" operation: "put" fail_open: true } })",
     2, 33, "faults.rule[0].operation", "only completion actions match on an operation"},

    {"loop_with_barrier", R"(name: "loop_with_barrier"
thread {
  name: "t"
  repeat: 3
  step { barrier: "b" }
}
host { step { barrier: "b" } })",
     5, 10, "thread[0].step[0].barrier", "a repeated thread (repeat: 3) takes no barriers"},

    {"loop_too_long", R"(name: "loop_too_long"
thread {
  name: "t"
  repeat: 10001
  step { op { sleep { ms: 1 } } }
})",
     4, 3, "thread[0].repeat", "must be at most 10000"},

    {"fault_flood_keyboard", R"(name: "fault_flood_keyboard"
setup { device { name: "kbd" kind: "keyboard" } }
faults { rule { device: "kbd" flood_ms: 100 } })",
     3, 17, "faults.rule[0].device", "only a blob device sends the completions this rule acts on"},

    {"lonely_barrier", R"(name: "lonely_barrier"
thread {
  name: "main"
  step { op { sleep { ms: 1 } } }
  step { barrier: "alone" }
})",
     5, 10, "thread[0].step[1].barrier", "is reached only by thread \"main\""},

    {"barrier_twice", R"(name: "barrier_twice"
thread {
  name: "main"
  step { barrier: "b" }
  step { barrier: "b" }
}
host { step { barrier: "b" } })",
     5, 10, "thread[0].step[1].barrier", "reaches barrier \"b\" a second time"},

    {"barrier_circle", R"(name: "barrier_circle"
thread {
  name: "main"
  step { barrier: "x" }
  step { barrier: "y" }
}
host {
  step { barrier: "y" }
  step { barrier: "x" }
})",
     4, 10, "thread[0].step[0].barrier", "barriers \"x\", \"y\" wait for each other in a circle"},

    {"slot_never_opened", R"(name: "slot_never_opened"
thread {
  name: "main"
  step { op { open { path: "/dev/x" slot: "a" } } }
  step { op { close { slot: "b" } } }
})",
     5, 23, "thread[0].step[1].op.close.slot", "slot \"b\" is never created"},

    {"process_never_created", R"(name: "process_never_created"
thread {
  name: "main"
  process: "child"
  step { op { sleep { ms: 1 } } }
})",
     4, 3, "thread[0].process", "process \"child\" is never created"},

    {"kill_unknown", R"(name: "kill_unknown"
thread {
  name: "main"
  step { op { kill { process: "ghost" } } }
})",
     4, 22, "thread[0].step[0].op.kill.process", "process \"ghost\" is never created"},

    {"fork_main", R"(name: "fork_main"
thread {
  name: "main"
  step { op { fork { child: "main" } } }
})",
     4, 22, "thread[0].step[0].op.fork.child", "process \"main\" always exists"},

    {"open_needs_slot", R"(name: "open_needs_slot"
thread {
  name: "main"
  step { op { open { path: "/dev/x" } } }
})",
     4, 15, "thread[0].step[0].op.open.slot", "must be set"},

    {"no_op", R"(name: "no_op"
thread {
  name: "main"
  step { op { } }
})",
     4, 10, "thread[0].step[0].op", "names no operation"},

    {"unknown_checker", R"(name: "unknown_checker"
tags: "negative-control"
expect { outcome: FAIL checker: "vibes" })",
     3, 24, "expect.checker", "unknown checker \"vibes\""},

    {"fail_needs_checker", R"(name: "fail_needs_checker"
tags: "negative-control"
expect { outcome: FAIL })",
     3, 1, "expect.checker", "names the checker that fails it"},

    {"control_must_fail", R"(name: "control_must_fail"
tags: "negative-control"
expect { outcome: PASS })",
     3, 10, "expect.outcome", "a negative control must FAIL"},

    {"fail_needs_tag", R"(name: "fail_needs_tag"
expect { outcome: FAIL checker: "console" })",
     2, 10, "expect.outcome", "is not tagged \"negative-control\""},

    {"thread_named_host", R"(name: "thread_named_host"
thread {
  name: "host"
  step { op { sleep { ms: 1 } } }
})",
     3, 3, "thread[0].name", "\"host\" is the host's lane"},

    {"same_thread", R"(name: "same_thread"
thread { name: "t" step { op { sleep { ms: 1 } } } }
thread { name: "t" step { op { sleep { ms: 1 } } } })",
     3, 10, "thread[1].name", "thread \"t\" is declared twice"},

    {"after_exit", R"(name: "after_exit"
thread {
  name: "main"
  step { op { exit { } } }
  step { op { sleep { ms: 1 } } }
})",
     5, 3, "thread[0].step[1]", "never runs: the thread exits at step[0]"},

    {"status_on_open", R"(name: "status_on_open"
thread {
  name: "main"
  step {
    op { open { path: "/dev/x" slot: "s" } }
    expect { blob_status: OK }
  }
})",
     6, 14, "thread[0].step[0].expect.blob_status", "only blob operations have a blob status"},

    {"impossible_timing", R"(name: "impossible_timing"
thread {
  name: "main"
  step {
    op { sleep { ms: 5 } }
    expect { within_ms: 10 not_before_ms: 20 }
  }
})",
     6, 28, "thread[0].step[0].expect.not_before_ms", "can never hold"},

    {"memory_pressure_too_far", R"(name: "memory_pressure_too_far"
thread {
  name: "main"
  step { op { memory_pressure { leave_available_kib: 100 } } }
})",
     4, 33, "thread[0].step[0].op.memory_pressure.leave_available_kib", "must be at least 4096"},

    {"any_outcome_and_errno", R"(name: "any_outcome_and_errno"
thread {
  name: "main"
  step {
    op { open { path: "/dev/x" slot: "s" } }
    expect { errno_name: "ENODEV" any_outcome: true }
  }
})",
     6, 35, "thread[0].step[0].expect.any_outcome", "give none of them"},

    {"blob_delay_keyboard", R"(name: "blob_delay_keyboard"
setup { device { name: "kbd" kind: "keyboard" } }
host { step { blob_delay { device: "kbd" ms: 10 } } })",
     3, 28, "host.step[0].blob_delay.device", "device \"kbd\" is a keyboard, not a blob"},

    {"blob_inject_keyboard", R"(name: "blob_inject_keyboard"
setup { device { name: "kbd" kind: "keyboard" } }
host { step { blob_inject { device: "kbd" trans_id: 0 } } })",
     3, 29, "host.step[0].blob_inject.device", "device \"kbd\" is a keyboard, not a blob"},

    {"wait_no_word", R"(name: "wait_no_word"
host { step { wait_state { device: "blob0" } } })",
     2, 15, "host.step[0].wait_state", "needs at least one word"},
};

BOOST_AUTO_TEST_CASE(each_malformed_file_is_rejected_with_its_line_field_and_message) {
  TempDir dir;
  for (const auto& c : kMalformed) {
    BOOST_TEST_CONTEXT(c.file) {
      const auto path = dir.write(std::string(c.file) + ".textproto", c.text);
      const auto loaded = load_scenario(path);
      BOOST_TEST_REQUIRE(!loaded.ok());
      const auto& errors = loaded.error().errors;
      BOOST_TEST_REQUIRE(errors.size() == 1u, loaded.error().str());
      const auto& e = errors.front();
      BOOST_TEST(e.path == path.string());
      BOOST_TEST(e.line == c.line, e.str());
      if (c.column != 0) BOOST_TEST(e.column == c.column, e.str());
      BOOST_TEST(e.field == c.field, e.str());
      BOOST_TEST(e.message.find(c.message) != std::string::npos, e.str());
    }
  }
}

BOOST_AUTO_TEST_CASE(error_prints_as_path_line_column_field_message) {
  const LoadError e{"scenarios/x.textproto", 12, 5, "thread[1].step[3].expect.errno_name",
                    "unknown errno name \"ENODEVV\"", LoadError::Severity::kError};
  BOOST_TEST(e.str() ==
             "scenarios/x.textproto:12:5: thread[1].step[3].expect.errno_name: unknown errno name \"ENODEVV\"");
  LoadError w = e;
  w.severity = LoadError::Severity::kWarning;
  w.line = 0;
  BOOST_TEST(w.str() ==
             "scenarios/x.textproto: warning: thread[1].step[3].expect.errno_name: unknown errno name \"ENODEVV\"");
}

BOOST_AUTO_TEST_CASE(every_error_of_a_file_is_reported_not_only_the_first) {
  TempDir dir;
  const auto path = dir.write("many.textproto", R"(name: "many"
setup { device { name: "blob0" kind: "disk" } }
thread {
  name: "main"
  step { op { open { path: "/dev/x" slot: "s" } } expect { errno_name: "ENOPE" } }
  step { barrier: "alone" }
}
host { step { reoffer { device: "blob9" } } }
expect { checker: "console" })");
  const auto loaded = load_scenario(path);
  BOOST_TEST_REQUIRE(!loaded.ok());
  std::vector<std::string> fields;
  for (const auto& e : loaded.error().errors) fields.push_back(e.field);
  const std::vector<std::string> expected = {
      "expect.checker",  // a checker without outcome FAIL
      "setup.device[0].kind",
      "thread[0].step[0].expect.errno_name",
      "host.step[0].reoffer.device",
      "thread[0].step[1].barrier",
  };
  BOOST_TEST(fields == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_operation_names_what_it_cannot_do_without) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("empty_ops.textproto", R"(name: "empty_ops"
thread {
  name: "main"
  step { op { open { } } }
  step { op { close { } } }
  step { op { ioctl { } } }
  step { op { blob { } } }
  step { op { dup { } } }
  step { op { kill { } } }
  step { op { pass_fd { } } }
  step { op { write_file { } } }
  step { op { read_file { } } }
  step { op { load_module { } } }
  step { op { unload_module { } } }
  step { op { sleep { } } }
  step { op { exit { } } }
})"));
  BOOST_TEST_REQUIRE(!loaded.ok());
  std::vector<std::string> fields;
  for (const auto& e : loaded.error().errors) {
    BOOST_TEST(e.message == "must be set", e.str());
    fields.push_back(e.field);
  }
  const std::vector<std::string> expected = {
      "thread[0].step[0].op.open.path",      "thread[0].step[0].op.open.slot",
      "thread[0].step[1].op.close.slot",     "thread[0].step[2].op.ioctl.slot",
      "thread[0].step[3].op.blob.slot",      "thread[0].step[4].op.dup.slot",
      "thread[0].step[4].op.dup.new_slot",   "thread[0].step[5].op.kill.process",
      "thread[0].step[6].op.pass_fd.slot",   "thread[0].step[6].op.pass_fd.to",
      "thread[0].step[6].op.pass_fd.new_slot", "thread[0].step[7].op.write_file.path",
      "thread[0].step[8].op.read_file.path", "thread[0].step[9].op.load_module.path",
      "thread[0].step[10].op.unload_module.name",
  };
  BOOST_TEST(fields == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_is_an_error_without_a_line) {
  const auto loaded = load_scenario("/nonexistent/vscsim/x.textproto");
  BOOST_TEST_REQUIRE(!loaded.ok());
  BOOST_TEST(loaded.error().errors.front().line == 0);
  BOOST_TEST(loaded.error().errors.front().message.find("cannot read") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(defaults_are_written_out_after_validation) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("minimal.textproto", R"(name: "minimal"
thread {
  name: "main"
  step { op { open { path: "/dev/azure_blob" slot: "d" } } }
  step { name: "shut" op { close { slot: "d" } } deadline_ms: 5 }
}
host { step { sleep_ms: 1 } })"));
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
  const auto& s = loaded->scenario;
  BOOST_TEST_REQUIRE(s.setup().device_size() == 1);
  BOOST_TEST(s.setup().device(0).name() == "blob0");
  BOOST_TEST(s.setup().device(0).kind() == "blob");
  BOOST_TEST_REQUIRE(s.setup().module_size() == 2);
  BOOST_TEST(s.setup().module(0) == "vscsim_vmbus");
  BOOST_TEST(s.setup().module(1) == "az_blob");
  BOOST_TEST(s.limits().step_deadline_ms() == 30000u);
  BOOST_TEST(s.limits().scenario_deadline_ms() == 300000u);
  BOOST_TEST(s.thread(0).process() == "main");
  BOOST_TEST(s.thread(0).step(0).name() == "main#0");
  BOOST_TEST(s.thread(0).step(0).deadline_ms() == 30000u);
  BOOST_TEST(s.thread(0).step(1).name() == "shut");
  BOOST_TEST(s.thread(0).step(1).deadline_ms() == 5u);
  BOOST_TEST(s.host().step(0).name() == "host#0");
  BOOST_TEST(s.expect().outcome() == vscsim::scenario::Verdict::PASS);
  BOOST_TEST(loaded->warnings.empty());
}

BOOST_AUTO_TEST_CASE(declared_setup_is_kept_as_written) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("two_devices.textproto", R"(name: "two_devices"
setup {
  device { name: "a" kind: "blob" }
  device { name: "k" kind: "keyboard" }
  module: "vscsim_vmbus"
  param { key: "vscsim_vmbus.timeout_ms" value: "500" }
}
limits { step_deadline_ms: 100 scenario_deadline_ms: 1000 })"));
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
  const auto& setup = loaded->scenario.setup();
  BOOST_TEST(setup.device_size() == 2);
  BOOST_TEST(setup.module_size() == 1);
  BOOST_TEST(loaded->scenario.limits().step_deadline_ms() == 100u);
}

BOOST_AUTO_TEST_CASE(quiet_names_modules_of_the_setup_or_of_load_module_steps) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("quiet_ok.textproto", R"(name: "quiet_ok"
thread {
  name: "main"
  step { op { load_module { path: "/lib/vscsim/vsc_smoke.ko" } } }
}
quiet { module: "az_blob" module: "vsc_smoke" max_lines: 1 })"));
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
  BOOST_TEST(loaded->scenario.quiet().module_size() == 2);
  BOOST_TEST(loaded->scenario.quiet().max_lines() == 1u);
  BOOST_TEST(loaded->warnings.empty());
}

// A slot opened by one thread and used by another of the same process is
// fine once a barrier orders the two; without one it is only a warning,
// because timing may still make it work.
BOOST_AUTO_TEST_CASE(slot_from_another_thread_needs_a_barrier_to_be_proven) {
  TempDir dir;
  const char* ordered = R"(name: "ordered"
thread {
  name: "opener"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step { barrier: "open" }
}
thread {
  name: "user"
  step { barrier: "open" }
  step { op { close { slot: "s" } } }
})";
  const auto with_barrier = load_scenario(dir.write("ordered.textproto", ordered));
  BOOST_TEST_REQUIRE(with_barrier.ok(), errors_of(with_barrier));
  BOOST_TEST(with_barrier->warnings.empty());

  const auto without = load_scenario(dir.write("racy.textproto", R"(name: "racy"
thread {
  name: "opener"
  step { op { open { path: "/dev/x" slot: "s" } } }
}
thread {
  name: "user"
  step { op { close { slot: "s" } } }
})"));
  BOOST_TEST_REQUIRE(without.ok(), errors_of(without));
  BOOST_TEST_REQUIRE(without->warnings.size() == 1u);
  const auto& w = without->warnings.front();
  BOOST_TEST(w.field == "thread[1].step[0].op.close.slot");
  BOOST_TEST(w.line == 8);
  BOOST_TEST(w.message.find("may not exist in process \"main\" yet") != std::string::npos, w.str());
}

// Broken barriers give no order, so "may not exist yet" would flag every use:
// only the barrier error is reported.
BOOST_AUTO_TEST_CASE(broken_barriers_do_not_bury_the_error_in_warnings) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("circle.textproto", R"(name: "circle"
thread {
  name: "a"
  step { op { open { path: "/dev/x" slot: "s" } } }
  step { barrier: "x" }
  step { barrier: "y" }
  step { op { close { slot: "s" } } }
}
thread {
  name: "b"
  step { barrier: "y" }
  step { barrier: "x" }
  step { op { close { slot: "s" } } }
})"));
  BOOST_TEST_REQUIRE(!loaded.ok());
  BOOST_TEST(loaded.error().errors.size() == 1u, loaded.error().str());
  BOOST_TEST(loaded.error().warnings.empty(), loaded.error().str());
}

BOOST_AUTO_TEST_CASE(fork_and_pass_fd_create_processes_and_slots_for_other_threads) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("family.textproto", R"(name: "family"
thread {
  name: "parent"
  step { op { open { path: "/dev/azure_blob" slot: "dev" } } }
  step { op { fork { child: "kid" } } }
  step { op { spawn { name: "stranger" uid: 1000 gid: 1000 } } }
  step { op { pass_fd { slot: "dev" to: "stranger" new_slot: "given" } } }
  step { barrier: "ready" }
}
thread {
  name: "kid_main"
  process: "kid"
  step { barrier: "ready" }
  step { op { close { slot: "dev" } } }
}
thread {
  name: "stranger_main"
  process: "stranger"
  step { barrier: "ready" }
  step { op { dup { slot: "given" new_slot: "again" } } }
  step { op { close { slot: "again" } } }
}
host { step { barrier: "ready" } })"));
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
  for (const auto& w : loaded->warnings) BOOST_ERROR(w.str());
}

BOOST_AUTO_TEST_CASE(data_of_may_name_a_step_of_another_thread_across_a_barrier) {
  TempDir dir;
  const auto loaded = load_scenario(dir.write("handover.textproto", R"(name: "handover"
thread {
  name: "writer"
  step { op { open { path: "/dev/x" slot: "w" } } }
  step { name: "put" op { blob { slot: "w" fill_length: 10 } } }
  step { barrier: "written" }
}
thread {
  name: "reader"
  step { op { open { path: "/dev/x" slot: "r" } } }
  step { barrier: "written" }
  step { op { blob { slot: "r" digest_only: true } } expect { data_of: "put" } }
})"));
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
}

}  // namespace

// The parts of vscsim_session that need no guest: boot keys and module
// parameters, the fault plan as control requests (and what is refused), the
// verdict from the checkers' findings, and the packet trace as timeline
// events. The rest runs in a real guest (vsc_harness_suite_vm_test).
#define BOOST_TEST_MODULE session
#include <boost/test/unit_test.hpp>

#include <google/protobuf/text_format.h>

#include <limits>

#include "vscsim/session/guest_session.h"
#include "vscsim/session/ports.h"
#include "vscsim/session/scenario_run.h"

using namespace vscsim;
using namespace vscsim::session;

namespace {

scenario::Scenario parse(const std::string& text) {
  scenario::Scenario s;
  BOOST_REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &s));
  return s;
}

const char* const kTwoDevices = R"(
  setup {
    device { name: "blob0" kind: "blob" }
    device { name: "kbd" kind: "keyboard" }
    device { name: "blob1" kind: "blob" }
    module: "vscsim_vmbus" module: "az_blob"
    param { key: "az_blob.timeout_ms" value: "500" }
    param { key: "az_blob.completion_budget" value: "8" }
  })";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(setup_helpers) {
  const auto s = parse(kTwoDevices);
  BOOST_TEST(boot_key(s.setup()) == "blob,keyboard,blob,|transport");
  BOOST_TEST(driver_modules(s.setup()) == std::vector<std::string>{"az_blob"});
  // Key order, not file order: the same insmod line every time.
  BOOST_TEST(module_params(s.setup(), "az_blob") == "completion_budget=8 timeout_ms=500");
  BOOST_TEST(module_params(s.setup(), "vscsim_vmbus").empty());
  BOOST_TEST(relid_of(s.setup(), "blob0") == 1u);
  BOOST_TEST(relid_of(s.setup(), "blob1") == 3u);
  BOOST_TEST(relid_of(s.setup(), "nope") == 0u);

  // Driver parameters do not change the boot; transport parameters do.
  auto other = parse(kTwoDevices);
  (*other.mutable_setup()->mutable_param())["az_blob.timeout_ms"] = "9";
  BOOST_TEST(boot_key(other.setup()) == boot_key(s.setup()));
  (*other.mutable_setup()->mutable_param())["vscsim_vmbus.x"] = "1";
  BOOST_TEST(boot_key(other.setup()) != boot_key(s.setup()));
}

BOOST_AUTO_TEST_CASE(fault_plan_becomes_control_requests) {
  auto s = parse(std::string(kTwoDevices) + R"(
    faults {
      rule { device: "blob1" count: 2 after_requests: 3 drop_completion: true }
      rule { device: "blob0" trans_id: 7 duplicate_completion: true }
      rule { device: "blob0" delay_ms: 250 count: 1 }
      rule { device: "kbd" fail_open: true }
      rule { device: "blob0" wrong_id { kind: STALE } }
      rule { device: "blob1" corrupt { offset: 4 xor_mask: 255 } }
      rule { device: "kbd" rescind_on_close: true }
      rule { device: "blob0" stop_draining { ms: 300 } }
    })");
  auto r = fault_requests(s);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_REQUIRE(r->size() == 8u);
  const auto& drop = (*r)[0].add_fault();
  BOOST_TEST(drop.relid() == 3u);
  BOOST_TEST(drop.has_drop());
  BOOST_TEST(drop.count() == 2u);
  BOOST_TEST(drop.after() == 3u);
  BOOST_TEST((*r)[1].add_fault().has_duplicate());
  BOOST_TEST((*r)[1].add_fault().trans_id() == 7u);
  BOOST_TEST(!(*r)[2].add_fault().has_trans_id());
  BOOST_TEST((*r)[2].add_fault().delay_ms() == 250u);
  BOOST_TEST((*r)[2].add_fault().count() == 1u);
  BOOST_TEST((*r)[3].add_fault().relid() == 2u);
  BOOST_TEST((*r)[3].add_fault().has_fail_open());
  BOOST_TEST((*r)[4].add_fault().wrong_id().kind() == control::WrongId::STALE);
  BOOST_TEST((*r)[5].add_fault().corrupt().xor_mask() == 255u);
  BOOST_TEST((*r)[6].add_fault().has_rescind_on_close());
  BOOST_TEST((*r)[7].add_fault().stop_draining().ms() == 300u);
}

BOOST_AUTO_TEST_CASE(fault_rules_that_cannot_work_are_refused_by_rule) {
  const std::pair<const char*, const char*> cases[] = {
      {R"(faults { rule { device: "blob0" delay_ms: 1 } rule { device: "blob0" rescind: true } })",
       "faults.rule[1]: `rescind` does not say when"},
      {R"(faults { random_rules: 2 })", "faults.random_rules: 2"},
      {R"(faults { rule { device: "kbd" drop_completion: true } })", "only a blob device sends"},
      {R"(faults { rule { device: "ghost" drop_completion: true } })", "no device named 'ghost'"},
  };
  for (const auto& [text, expected] : cases) {
    auto r = fault_requests(parse(std::string(kTwoDevices) + text));
    BOOST_REQUIRE_MESSAGE(!r.ok(), text);
    BOOST_TEST(has(r.error(), expected), r.error());
  }
}

BOOST_AUTO_TEST_CASE(verdicts) {
  scenario::Verdict pass;
  scenario::Verdict must_fail;
  must_fail.set_outcome(scenario::Verdict::FAIL);
  must_fail.set_checker("console");
  const std::vector<CheckFailure> console{{"console", "WARNING at line 3"}};
  const std::vector<CheckFailure> expectation_then_console{{"expectation", "expected OK"}, {"console", "WARNING"}};

  BOOST_TEST(decide(pass, {}, "").status == report::ScenarioResult::PASS);
  auto v = decide(pass, expectation_then_console, "");
  BOOST_TEST(v.status == report::ScenarioResult::FAIL);
  BOOST_TEST(v.checker == "expectation");
  BOOST_TEST(v.message == "expected OK\nalso console: WARNING");  // the others are kept

  v = decide(pass, {}, "vsp-sim died");
  BOOST_TEST(v.status == report::ScenarioResult::ERROR);
  BOOST_TEST(v.message == "vsp-sim died");

  // Negative controls: caught by the right checker passes ...
  v = decide(must_fail, console, "");
  BOOST_TEST(v.status == report::ScenarioResult::PASS);
  BOOST_TEST(v.checker == "console");
  // ... not caught at all, or caught first by another checker, fails.
  v = decide(must_fail, {}, "");
  BOOST_TEST(v.status == report::ScenarioResult::FAIL);
  BOOST_TEST(has(v.message, "not caught"), v.message);
  BOOST_TEST(v.checker.empty());  // nothing failed it
  v = decide(must_fail, expectation_then_console, "");
  BOOST_TEST(v.status == report::ScenarioResult::FAIL);
  BOOST_TEST(v.checker == "expectation");
  BOOST_TEST(has(v.message, "wrong checker"), v.message);
  // A harness error is never a pass, not even for a negative control.
  BOOST_TEST(decide(must_fail, console, "agent gone").status == report::ScenarioResult::ERROR);
}

BOOST_AUTO_TEST_CASE(packet_trace_becomes_timeline_events) {
  const auto s = parse(kTwoDevices);
  const std::string lines =
      R"({"t_ns":1500000,"kind":"guest_packet","relid":1,"type":9,"type_name":"GPA_DIRECT","flags":1,"trans_id":7,"length":40})"
      "\n"
      R"({"t_ns":2000000,"kind":"host_message","relid":0,"type":1,"type_name":"OFFERCHANNEL","length":200})"
      "\n"
      R"({"t_ns":2500000,"kind":"fault","relid":3,"fault":"drop_completion","trans_id":9})"
      "\n"
      R"({"end":true,"events":3,"dropped":0})"
      "\n";
  auto r = trace_events(lines, s.setup());
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  BOOST_REQUIRE(r->size() == 3u);
  BOOST_TEST((*r)[0].lane() == "channel:blob0");
  BOOST_TEST((*r)[0].name() == "GPA_DIRECT");
  BOOST_TEST((*r)[0].start_s() == 0.0015, boost::test_tools::tolerance(1e-12));
  BOOST_TEST((*r)[0].instant());
  BOOST_TEST((*r)[0].args().at("trans_id") == "7");
  BOOST_TEST((*r)[1].lane() == "vmbus");
  BOOST_TEST((*r)[2].lane() == "channel:blob1");
  BOOST_TEST((*r)[2].name() == "fault drop_completion");

  auto limited = trace_events(lines, s.setup(), 1);
  BOOST_REQUIRE(limited.ok());
  BOOST_TEST(limited->size() == 1u);

  auto bad = trace_events("{\"t_ns\":1}\nnot json\n", s.setup());
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(has(bad.error(), "trace line 2"), bad.error());
}

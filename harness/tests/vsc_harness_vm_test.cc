// vsc-harness end to end, as CI and users run it: the default suite (and its
// negative controls) in a real guest, twice with the same seed; and a suite
// built to fail, which must be reported failing by the right checkers.
#define BOOST_TEST_MODULE vsc_harness_vm
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "run_command.h"
#include "vscsim/report/json.h"

using namespace vscsim;
using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;

namespace {

const std::string kHarness = VSC_HARNESS_BINARY;
const fs::path kScenarios = VSCSIM_SCENARIOS_DIR;

report::RunReport load_report(const fs::path& p) {
  auto r = report::from_json(slurp(p));
  BOOST_REQUIRE_MESSAGE(r.ok(), p.string() + ": " + (r.ok() ? std::string() : r.error()));
  return std::move(r).value();
}

// What must be the same when the same seed runs again: per iteration its
// seed, status and failing checker (timings differ).
using Outcomes = std::map<std::pair<std::string, std::uint32_t>, std::tuple<std::uint64_t, int, std::string>>;
Outcomes outcomes(const report::RunReport& r) {
  Outcomes o;
  for (const auto& s : r.result()) o[{s.name(), s.iteration()}] = {s.seed(), s.status(), s.checker()};
  return o;
}

// A copy of a suite scenario under another name, with text replaced.
void derive(const fs::path& dir, const std::string& from, const std::string& to,
            const std::vector<std::pair<std::string, std::string>>& replace) {
  std::string text = slurp(kScenarios / (from + ".textproto"));
  for (auto [a, b] : replace) {
    const auto at = text.find(a);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, from + " no longer contains: " + a);
    text.replace(at, a.size(), b);
  }
  const auto name_at = text.find("name: \"" + from + "\"");
  BOOST_REQUIRE(name_at != std::string::npos);
  text.replace(name_at, from.size() + 8, "name: \"" + to + "\"");
  std::ofstream(dir / (to + ".textproto")) << text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_suite_passes_and_the_same_seed_gives_the_same_result) {
  vscsim::testing::TempDir dir("vsc-harness-vm");
  std::map<std::string, Outcomes> runs;
  for (const char* tag : {"first", "second"}) {
    const fs::path json = dir.path / (std::string(tag) + ".json");
    const fs::path junit = dir.path / (std::string(tag) + ".xml");
    const auto r = run_command(kHarness + " run --seed 42 --keep-going --json " + json.string() + " --junit " +
                               junit.string());
    BOOST_TEST_MESSAGE(r.output);
    BOOST_TEST(r.exit_code == 0, "vsc-harness run (" << tag << ") exited " << r.exit_code);
    BOOST_TEST(has(r.output, "seed"), "the plan and its seed are printed first");
    const auto rep = load_report(json);
    BOOST_TEST(rep.run_seed() == 42u);
    // Every scenario of the folder but those for the debug kernel, each
    // passed (negative controls caught); the plan names the others.
    std::uint32_t files = 0;
    for (const auto& e : fs::directory_iterator(kScenarios)) {
      if (e.path().extension() != ".textproto") continue;
      if (has(slurp(e.path()), "\nneeds_debug_kernel: true")) {
        BOOST_TEST(has(r.output, e.path().stem().string()), "the plan names " << e.path().stem() << " as not run");
      } else {
        ++files;
      }
    }
    BOOST_TEST(has(r.output, "not run: "), "the plan says which scenarios need the debug kernel");
    BOOST_TEST(rep.totals().runs() == files);
    BOOST_TEST(rep.totals().passed() == files);
    BOOST_TEST(rep.kernel().release() == "6.1.0-50-cloud-amd64");
    for (const auto& s : rep.result()) {
      BOOST_TEST_CONTEXT(s.name()) {
        BOOST_TEST(s.status() == report::ScenarioResult::PASS, s.message());
        BOOST_TEST(s.step_size() > 0);
        if (!s.expected_checker().empty()) {
          // A negative control: caught, by the checker it was built for.
          BOOST_TEST(s.checker() == s.expected_checker(), s.message());
          BOOST_TEST(has(s.message(), "caught as designed"), s.message());
        } else {
          BOOST_TEST(s.checker().empty(), s.message());
        }
      }
    }
    const std::string xml = slurp(junit);
    BOOST_TEST(has(xml, "tests=\"" + std::to_string(files) + "\""), xml);
    BOOST_TEST(has(xml, "failures=\"0\""), xml);
    runs[tag] = outcomes(rep);
  }
  BOOST_TEST((runs["first"] == runs["second"]), "the same seed gave a different result");
}

BOOST_AUTO_TEST_CASE(a_suite_built_to_fail_is_reported_by_the_right_checkers) {
  vscsim::testing::TempDir dir("vsc-harness-vm");
  const fs::path suite = dir.path / "suite";
  fs::create_directories(suite);
  // The negative controls without their `expect`: now they must fail.
  const std::pair<std::string, std::string> untag{"tags: \"negative-control\"", "tags: \"built-to-fail\""};
  derive(suite, "neg_console_warning", "bad_console_warning",
         {untag, {"expect { outcome: FAIL checker: \"console\" }", ""}});
  derive(suite, "neg_dropped_response", "bad_dropped_response",
         {untag, {"expect { outcome: FAIL checker: \"expectation\" }", ""}});
  // A negative control nothing catches: reported as not caught.
  derive(suite, "probe", "uncaught_control",
         {{"tags: \"default\"", "tags: \"negative-control\" expect { outcome: FAIL checker: \"console\" }"}});
  // A fault rule vsp-sim refuses (a truncation longer than the completion):
  // not run without it (ERROR), never a pass.
  derive(suite, "neg_dropped_response", "unsupported_fault", {{"drop_completion: true", "truncate: 40"}});

  // A guest that panics (sysrq crash): failed by the console checker, and
  // the scenarios after it run in a freshly booted guest.
  std::ofstream(suite / "crash_guest.textproto") << R"(name: "crash_guest"
thread {
  name: "main"
  step { op { write_file { path: "/proc/sysrq-trigger" data: "c" } } }
}
)";

  const fs::path json = dir.path / "r.json";
  const auto r = run_command(kHarness + " run --seed 7 --keep-going --suite " + suite.string() + " --json " +
                             json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 1);
  const auto rep = load_report(json);
  std::map<std::string, report::ScenarioResult> by_name;
  for (const auto& s : rep.result()) by_name[s.name()] = s;
  BOOST_REQUIRE(by_name.size() == 5u);
  BOOST_TEST(by_name["crash_guest"].status() == report::ScenarioResult::FAIL, by_name["crash_guest"].message());
  BOOST_TEST(by_name["crash_guest"].checker() == "console");
  BOOST_TEST(has(by_name["crash_guest"].message(), "Kernel panic"), by_name["crash_guest"].message());
  BOOST_TEST(has(by_name["crash_guest"].console_excerpt(), "sysrq"), by_name["crash_guest"].console_excerpt());
  BOOST_TEST(by_name["bad_console_warning"].status() == report::ScenarioResult::FAIL);
  BOOST_TEST(by_name["bad_console_warning"].checker() == "console");
  BOOST_TEST(has(by_name["bad_console_warning"].message(), "WARNING"), by_name["bad_console_warning"].message());
  BOOST_TEST(by_name["bad_dropped_response"].status() == report::ScenarioResult::FAIL);
  BOOST_TEST(by_name["bad_dropped_response"].checker() == "expectation");
  BOOST_TEST(has(by_name["bad_dropped_response"].message(), "ETIMEDOUT"), by_name["bad_dropped_response"].message());
  // The failing iteration carries the packet trace, the drop included.
  bool drop_seen = false;
  for (const auto& e : by_name["bad_dropped_response"].event()) drop_seen = drop_seen || has(e.name(), "drop_completion");
  BOOST_TEST(drop_seen);
  // Ran after the crash, in a new guest, to its verdict.
  BOOST_TEST(by_name["uncaught_control"].status() == report::ScenarioResult::FAIL);
  BOOST_TEST(by_name["uncaught_control"].step_size() == 2);
  BOOST_TEST(has(by_name["uncaught_control"].message(), "not caught"), by_name["uncaught_control"].message());
  BOOST_TEST(by_name["unsupported_fault"].status() == report::ScenarioResult::ERROR);
  BOOST_TEST(has(by_name["unsupported_fault"].message(), "truncate"), by_name["unsupported_fault"].message());
  // With --json and a failure, the Chrome trace is written beside it.
  BOOST_TEST(fs::exists(dir.path / "r.trace.json"));
}

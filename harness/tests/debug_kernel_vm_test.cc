// The debug kernel end to end (issue 8), through vsc-harness as users run it:
// it boots with the project's modules built for it; KASAN reports vsc_smoke's
// deliberate use after free and the console checker fails that negative
// control as designed; the fault-injection scenario of catalogue item 12
// passes with the hardened az_blob; the two mutants that only this kernel
// can show (02, 12) are caught; and the whole suite, forced races included,
// passes under KASAN, lockdep and the object debugging with the hardened
// driver. Needs `cmake --build build --target debug_guest` first; without it
// every case fails saying so.
#define BOOST_TEST_MODULE debug_kernel_vm
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "run_command.h"
#include "vscsim/build_config.h"
#include "vscsim/report/json.h"

using namespace vscsim;
using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;

namespace {

const std::string kHarness = VSC_HARNESS_BINARY;

void require_debug_kernel() {
  const auto missing = vscsim::testing::missing_built_kernel(build_config::kDebugKernel, build_config::kDebugInitramfs,
                                                             "debug", "debug_guest");
  BOOST_REQUIRE_MESSAGE(missing.empty(), missing);
}

}  // namespace

BOOST_AUTO_TEST_CASE(kasan_reports_a_use_after_free_and_item_12_passes_on_the_hardened_driver) {
  require_debug_kernel();
  vscsim::testing::TempDir dir("debug-kernel-vm");
  const fs::path json = dir.path / "r.json";
  const auto r = run_command(kHarness + " run --kernel debug --seed 3 --keep-going --filter neg_kasan_use_after_free "
                                        "--filter kvmalloc_fallback --json " + json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0);
  auto rep = report::from_json(slurp(json));
  BOOST_REQUIRE_MESSAGE(rep.ok(), (rep.ok() ? std::string() : rep.error()));
  BOOST_TEST(rep->kernel().release() == build_config::kDebugKernelRelease);
  std::map<std::string, report::ScenarioResult> by_name;
  for (const auto& s : rep->result()) by_name[s.name()] = s;
  BOOST_REQUIRE(by_name.size() == 2u);
  const auto& uaf = by_name["neg_kasan_use_after_free"];
  // Passed as a negative control: failed by the console checker, on KASAN's report.
  BOOST_TEST(uaf.status() == report::ScenarioResult::PASS, uaf.message());
  BOOST_TEST(uaf.checker() == "console", uaf.message());
  BOOST_TEST(has(uaf.message(), "KASAN"), uaf.message());
  BOOST_TEST(has(uaf.message(), "use-after-free in vsc_smoke_use_after_free"), uaf.message());
  BOOST_TEST(has(uaf.console_excerpt(), "vsc_smoke"), uaf.console_excerpt());
  const auto& item12 = by_name["kvmalloc_fallback"];
  BOOST_TEST(item12.status() == report::ScenarioResult::PASS, item12.message());
  BOOST_TEST(item12.checker().empty(), item12.message());
}

BOOST_AUTO_TEST_CASE(the_mutants_that_need_the_debug_kernel_are_caught_on_it) {
  require_debug_kernel();
  vscsim::testing::TempDir dir("debug-kernel-vm");
  const fs::path json = dir.path / "m.json";
  const auto r = run_command(kHarness + " mutants --kernel debug --seed 5 --filter '02-*' --filter '12-*' "
                                        "--scenario-filter late_answer --scenario-filter kvmalloc_fallback --json " +
                             json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.output, "mutation score: 2/2 caught"), r.output);
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  BOOST_TEST(j["kernel"] == "debug");
  BOOST_TEST(j["baseline"]["passed"] == true);
  BOOST_REQUIRE(j["mutants"].size() == 2u);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& m : j["mutants"]) by_name[m["name"].get<std::string>()] = m;
  for (const auto& [name, scenario] : {std::pair<std::string, std::string>{"02-late-completion-frees", "late_answer"},
                                       {"12-kfree-kvmalloc", "kvmalloc_fallback"}}) {
    BOOST_TEST_CONTEXT(name) {
      const auto& m = by_name[name];
      BOOST_TEST(m["outcome"] == "caught");
      bool by_console = false;
      for (const auto& c : m["caught_by"]) by_console = by_console || (c["scenario"] == scenario && c["checker"] == "console");
      BOOST_TEST(by_console, m["caught_by"].dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(the_whole_suite_races_included_passes_on_the_debug_kernel) {
  require_debug_kernel();
  vscsim::testing::TempDir dir("debug-kernel-vm");
  const fs::path json = dir.path / "all.json";
  const auto r = run_command(kHarness + " run --kernel debug --seed 42 --keep-going --json " + json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(!has(r.output, "not run: "), "nothing is left out on the debug kernel");
  auto rep = report::from_json(slurp(json));
  BOOST_REQUIRE_MESSAGE(rep.ok(), (rep.ok() ? std::string() : rep.error()));
  BOOST_TEST(rep->totals().runs() == rep->totals().passed());
  unsigned races = 0;
  for (const auto& s : rep->result()) {
    BOOST_TEST_CONTEXT(s.name()) {
      BOOST_TEST(s.status() == report::ScenarioResult::PASS, s.message());
      BOOST_TEST(s.checker() == s.expected_checker(), s.message());
    }
  }
  for (const char* race : {"open_during_removal", "rebind_during_request", "rescind_before_wait", "shared_fd_rescind",
                           "removing_flag_race"}) {
    for (const auto& s : rep->result()) races += s.name() == race;
  }
  BOOST_TEST(races == 5u, "the forced races ran");
}

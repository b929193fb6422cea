#define BOOST_TEST_MODULE mutants
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "vscsim/mutants/mutant.h"
#include "vscsim/mutants/score.h"
#include "vscsim/mutants/static_checks.h"

using namespace vscsim;
using namespace vscsim::mutants;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPatch =
    "Mutant: wait-forever\n"
    "Item: 1\n"
    "Needs: stock\n"
    "Caught-by: wait_timeout (deadline)\n"
    "Description: The ioctl waits with no timeout,\n"
    " so a host that never answers hangs it.\n"
    "\n"
    "diff -ru a/request.c b/request.c\n"
    "--- a/request.c\n"
    "+++ b/request.c\n";

std::string with(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

Mutant mutant(const std::string& name, Needs needs = Needs::Stock) {
  Mutant m;
  m.name = name;
  m.mutant = name.substr(3);
  m.item = static_cast<unsigned>(std::stoul(name.substr(0, 2)));
  m.needs = needs;
  return m;
}

report::RunReport run_of(std::initializer_list<std::pair<const char*, report::ScenarioResult::Status>> results) {
  report::RunReport r;
  for (const auto& [name, status] : results) {
    auto* it = r.add_result();
    it->set_name(name);
    it->set_status(status);
    if (status == report::ScenarioResult::FAIL) it->set_checker("expectation");
    if (status == report::ScenarioResult::ERROR) it->set_message("the guest did not boot");
  }
  return r;
}

constexpr auto kPass = report::ScenarioResult::PASS;
constexpr auto kFail = report::ScenarioResult::FAIL;
constexpr auto kError = report::ScenarioResult::ERROR;

}  // namespace

BOOST_AUTO_TEST_CASE(header_fields_are_parsed_with_continuation_lines) {
  auto m = parse_mutant(kPatch, "01-wait-forever");
  BOOST_TEST_REQUIRE(m.ok(), (m.ok() ? "" : m.error()));
  BOOST_TEST(m->name == "01-wait-forever");
  BOOST_TEST(m->mutant == "wait-forever");
  BOOST_TEST(m->item == 1u);
  BOOST_TEST((m->needs == Needs::Stock));
  BOOST_TEST(m->caught_by == "wait_timeout (deadline)");
  BOOST_TEST(m->description == "The ioctl waits with no timeout, so a host that never answers hangs it.");
}

BOOST_AUTO_TEST_CASE(header_accepts_debug_kernel_and_a_name_suffix) {
  auto m = parse_mutant(with(kPatch, "Needs: stock", "Needs: debug-kernel"), "01-wait-forever-2");
  BOOST_TEST_REQUIRE(m.ok(), (m.ok() ? "" : m.error()));
  BOOST_TEST((m->needs == Needs::DebugKernel));
}

BOOST_AUTO_TEST_CASE(header_errors_name_what_is_wrong) {
  auto bad = [](const std::string& text, const std::string& stem) {
    auto m = parse_mutant(text, stem);
    BOOST_TEST_REQUIRE(!m.ok());
    return m.error();
  };
  BOOST_TEST(bad(kPatch, "02-wait-forever").find("does not start with \"01-wait-forever\"") != std::string::npos);
  BOOST_TEST(bad(kPatch, "01-wait-forevermore").find("does not start with") != std::string::npos);
  BOOST_TEST(bad(with(kPatch, "Needs: stock", "Needs: kasan"), "01-wait-forever").find("Needs") != std::string::npos);
  BOOST_TEST(bad(with(kPatch, "Item: 1", "Item: 21"), "21-wait-forever").find("1..20") != std::string::npos);
  BOOST_TEST(bad(with(kPatch, "Item: 1\n", ""), "01-wait-forever").find("no Item") != std::string::npos);
  BOOST_TEST(bad(with(kPatch, "Item: 1", "Iten: 1"), "01-wait-forever").find("line 2: unknown header field") !=
             std::string::npos);
  BOOST_TEST(bad("Mutant: x\n", "01-x").find("no diff") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(load_mutants_filters_by_glob_but_checks_every_file) {
  const fs::path dir = fs::temp_directory_path() / ("mutants_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "01-wait-forever.patch") << kPatch;
  std::ofstream(dir / "15-unknown-ioctl.patch")
      << with(with(kPatch, "Item: 1", "Item: 15"), "Mutant: wait-forever", "Mutant: unknown-ioctl");
  std::ofstream(dir / "notes.txt") << "not a patch";
  auto all = load_mutants(dir, {});
  BOOST_TEST_REQUIRE(all.ok(), (all.ok() ? "" : all.error()));
  BOOST_TEST(all->size() == 2u);
  BOOST_TEST(all->front().name == "01-wait-forever");
  auto some = load_mutants(dir, {"15-*"});
  BOOST_TEST_REQUIRE(some.ok());
  BOOST_TEST(some->size() == 1u);
  BOOST_TEST(some->front().item == 15u);
  std::ofstream(dir / "16-bad.patch") << "Mutant: bad\n";
  BOOST_TEST(!load_mutants(dir, {"15-*"}).ok());
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(any_failing_iteration_catches_and_each_is_recorded) {
  auto r = classify(mutant("15-x"), run_of({{"probe", kPass}, {"a", kFail}, {"b", kError}, {"c", kFail}}));
  BOOST_TEST((r.outcome == Outcome::Caught));
  BOOST_TEST_REQUIRE(r.caught_by.size() == 2u);
  BOOST_TEST(r.caught_by[0].scenario == "a");
  BOOST_TEST(r.caught_by[1].scenario == "c");
  BOOST_TEST(r.caught_by[0].checker == "expectation");
  BOOST_TEST(r.runs == 4u);
  BOOST_TEST(r.errors == 1u);
}

BOOST_AUTO_TEST_CASE(all_passing_is_missed_unless_it_needs_a_debug_kernel) {
  const auto run = run_of({{"probe", kPass}, {"io", kPass}});
  BOOST_TEST((classify(mutant("16-x"), run).outcome == Outcome::Missed));
  BOOST_TEST((classify(mutant("12-x", Needs::DebugKernel), run).outcome == Outcome::NeedsDebugKernel));
  // A debug-kernel mutant that fails an iteration on the stock kernel is not
  // counted as caught (that was luck); on the debug kernel it is.
  const auto lucky = classify(mutant("12-x", Needs::DebugKernel), run_of({{"io", kFail}}));
  BOOST_TEST((lucky.outcome == Outcome::NeedsDebugKernel));
  BOOST_TEST(lucky.caught_by.size() == 1u);
  BOOST_TEST(lucky.detail.find("by chance") != std::string::npos, lucky.detail);
  BOOST_TEST((classify(mutant("12-x", Needs::DebugKernel), run_of({{"io", kFail}}), {}, true).outcome ==
              Outcome::Caught));
}

BOOST_AUTO_TEST_CASE(errors_without_a_failure_are_error_not_missed) {
  auto r = classify(mutant("20-x"), run_of({{"probe", kPass}, {"io", kError}}));
  BOOST_TEST((r.outcome == Outcome::Error));
  BOOST_TEST(r.detail.find("io: the guest did not boot") != std::string::npos);
  BOOST_TEST((classify(mutant("20-x"), run_of({})).outcome == Outcome::Error));
}

BOOST_AUTO_TEST_CASE(score_counts_debug_kernel_mutants_in_the_total_as_not_caught) {
  Campaign c;
  c.baseline_passed = true;
  c.results.push_back(classify(mutant("01-a"), run_of({{"x", kFail}})));
  c.results.push_back(classify(mutant("02-b", Needs::DebugKernel), run_of({{"x", kPass}})));
  c.results.push_back(build_failed(mutant("03-c"), "does not apply"));
  const auto s = score(c.results);
  BOOST_TEST(s.total == 3u);
  BOOST_TEST(s.caught == 1u);
  BOOST_TEST(s.needs_debug_kernel == 1u);
  BOOST_TEST(s.build_failed == 1u);
  BOOST_TEST(!campaign_ok(c));  // the build failure
  c.results.pop_back();
  BOOST_TEST(campaign_ok(c));  // caught + needs-debug-kernel
  c.results.push_back(classify(mutant("04-d"), run_of({{"x", kPass}})));
  BOOST_TEST(!campaign_ok(c));  // missed
  c.results.pop_back();
  c.baseline_passed = false;
  BOOST_TEST(!campaign_ok(c));
  BOOST_TEST(to_table(c).find("baseline: FAILED") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_has_the_documented_shape) {
  Campaign c;
  c.run_seed = 42;
  c.baseline_passed = true;
  c.baseline_runs = 9;
  c.results.push_back(classify(mutant("15-x"), run_of({{"unknown_ioctl", kFail}, {"probe", kPass}})));
  c.results.push_back(classify(mutant("12-y", Needs::DebugKernel), run_of({{"probe", kPass}})));
  const auto j = nlohmann::json::parse(to_json(c));
  BOOST_TEST(j["run_seed"] == "42");
  BOOST_TEST(j["baseline"]["passed"] == true);
  BOOST_TEST(j["baseline"]["runs"] == 9);
  BOOST_TEST(j["mutants"].size() == 2u);
  const auto& m = j["mutants"][0];
  BOOST_TEST(m["name"] == "15-x");
  BOOST_TEST(m["item"] == 15);
  BOOST_TEST(m["needs"] == "stock");
  BOOST_TEST(m["outcome"] == "caught");
  BOOST_TEST(m["caught_by"][0]["scenario"] == "unknown_ioctl");
  BOOST_TEST(m["caught_by"][0]["checker"] == "expectation");
  BOOST_TEST(j["mutants"][1]["outcome"] == "needs-debug-kernel");
  BOOST_TEST(j["score"]["caught"] == 1);
  BOOST_TEST(j["score"]["total"] == 2);
  BOOST_TEST(j["score"]["needs_debug_kernel"] == 1);
  BOOST_TEST(j["ok"] == true);
  const auto table = to_table(c);
  BOOST_TEST(table.find("mutation score: 1/2 caught") != std::string::npos);
  BOOST_TEST(table.find("unknown_ioctl (expectation)") != std::string::npos);
}

namespace {

StaticCheckResult check(const char* name, const char* checker, bool passed) {
  StaticCheckResult r;
  r.name = name;
  r.checker = checker;
  r.passed = passed;
  if (!passed) r.message = "exit 1: az_blob.h:40:9: error: unknown type name 'u32'";
  return r;
}

// As CMake hands them over (build_config.h), for a source tree /src/vsc/az_blob.
StaticCheckCommands commands() {
  StaticCheckCommands c;
  c.source_dir = "/src/vsc/az_blob";
  c.sparse_work_dir = "/b/vsc/sparse_az_blob";
  c.uapi_c99 = {"/usr/bin/cc", "-std=c99", "-I/src/vsc/az_blob/include/uapi", "-fsyntax-only", "-x", "c",
                "/src/vsc/az_blob/tests/uapi_check.c"};
  c.uapi_cxx20 = {"/usr/bin/c++", "-std=c++20", "-I/src/vsc/az_blob/include/uapi", "-x", "c++",
                  "/src/vsc/az_blob/tests/uapi_check.c"};
  c.sparse = {"/src/cmake/kernel-lint.sh", "sparse", "/k/build", "/b/vsc/sparse_az_blob", "W=1",
              "KCPPFLAGS=-I/src/vsc/az_blob/include -I/src/vsc/race_gate/include",
              "KBUILD_EXTRA_SYMBOLS=/b/vsc/kbuild_vscsim_vmbus/Module.symvers", "--", "/src/vsc/az_blob/Kbuild",
              "/src/vsc/az_blob/az_blob_wire.h"};
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(retarget_moves_whole_folders_only) {
  const std::vector<std::pair<std::string, std::string>> moves = {{"/src/az_blob", "/m/x/src"}};
  const auto out = retarget({"/src/az_blob", "/src/az_blob/main.c", "KCPPFLAGS=-I/src/az_blob/include -I/src/other",
                             "-I/src/az_blob_other/include", "/elsewhere"},
                            moves);
  const std::vector<std::string> expected = {"/m/x/src", "/m/x/src/main.c",
                                             "KCPPFLAGS=-I/m/x/src/include -I/src/other",
                                             "-I/src/az_blob_other/include", "/elsewhere"};
  BOOST_TEST(out == expected, boost::test_tools::per_element());
  // A replacement that contains the folder's name is not replaced again.
  BOOST_TEST(retarget({"/a/b"}, {{"/a", "/a/a"}}) == std::vector<std::string>{"/a/a/b"});
}

BOOST_AUTO_TEST_CASE(static_checks_are_cmakes_commands_pointed_at_the_tree) {
  const auto checks = static_checks(commands(), "/b/mutants/18-x/src", "/b/mutants/18-x/sparse");
  BOOST_TEST_REQUIRE(checks.size() == 3u);
  BOOST_TEST(checks[0].name == "uapi-c99");
  BOOST_TEST(checks[0].checker == "uapi");
  BOOST_TEST(checks[0].argv[2] == "-I/b/mutants/18-x/src/include/uapi");
  BOOST_TEST(checks[0].argv.back() == "/b/mutants/18-x/src/tests/uapi_check.c");
  BOOST_TEST(checks[1].name == "uapi-cxx20");
  BOOST_TEST(checks[2].checker == "sparse");
  // Its scratch folder and the mutant's headers, never the source tree's;
  // the race gate's headers and vscsim_vmbus's symbols stay where they are.
  BOOST_TEST(checks[2].argv[3] == "/b/mutants/18-x/sparse");
  BOOST_TEST(checks[2].argv[5] == "KCPPFLAGS=-I/b/mutants/18-x/src/include -I/src/vsc/race_gate/include");
  BOOST_TEST(checks[2].argv[6] == "KBUILD_EXTRA_SYMBOLS=/b/vsc/kbuild_vscsim_vmbus/Module.symvers");
  BOOST_TEST(checks[2].argv.back() == "/b/mutants/18-x/src/az_blob_wire.h");
  // A build without kernel lint has no sparse command, so no sparse check.
  auto no_lint = commands();
  no_lint.sparse.clear();
  BOOST_TEST(static_checks(no_lint, "/t", "/w").size() == 2u);
}

BOOST_AUTO_TEST_CASE(check_output_is_summarised_by_our_findings) {
  const std::string sparse_out =
      "  CHECK   /m/sparse/request.c\n"
      "/k/linux-headers/include/linux/hyperv.h:1580:40: warning: array of flexible structures\n"
      "/m/sparse/request.c:430:31: warning: cast to restricted __le32\n"
      "/m/sparse/request.c:472:29: warning: cast to restricted __le32\n"
      "kernel-lint: sparse: 2 warning(s) or error(s) in the module's files (1 more in the kernel's headers, not "
      "counted)\n";
  BOOST_TEST(summarize_check_output(sparse_out, {"/m/src", "/m/sparse"}) ==
             "/m/sparse/request.c:430:31: warning: cast to restricted __le32\n"
             "/m/sparse/request.c:472:29: warning: cast to restricted __le32\n"
             "kernel-lint: sparse: 2 warning(s) or error(s) in the module's files (1 more in the kernel's headers, "
             "not counted)");
  BOOST_TEST(summarize_check_output(sparse_out, {"/m/sparse"}, 1) ==
             "/m/sparse/request.c:430:31: warning: cast to restricted __le32\n... 1 more\n"
             "kernel-lint: sparse: 2 warning(s) or error(s) in the module's files (1 more in the kernel's headers, "
             "not counted)");
  // Nothing of ours (sparse missing, a failed build): the output's last lines.
  BOOST_TEST(summarize_check_output("one\ntwo\nkernel-lint: sparse is not installed\n", {"/m/src"}, 2) ==
             "two\nkernel-lint: sparse is not installed");
}

BOOST_AUTO_TEST_CASE(a_failed_static_check_catches_even_a_debug_kernel_mutant) {
  const std::vector<StaticCheckResult> statics = {check("uapi-c99", "uapi", false),
                                                  check("uapi-cxx20", "uapi", false), check("sparse", "sparse", true)};
  const auto r = classify(mutant("18-x"), run_of({{"probe", kPass}}), statics);
  BOOST_TEST((r.outcome == Outcome::Caught));
  BOOST_TEST_REQUIRE(r.caught_by.size() == 2u);
  BOOST_TEST(r.caught_by[0].scenario == "uapi-c99");
  BOOST_TEST(r.caught_by[0].checker == "uapi");
  BOOST_TEST(r.caught_by[1].scenario == "uapi-cxx20");
  BOOST_TEST(r.failed == 0u);  // iterations only
  // Deterministic, so no luck to discount.
  BOOST_TEST((classify(mutant("12-y", Needs::DebugKernel), run_of({{"probe", kPass}}), statics).outcome ==
              Outcome::Caught));
  // Checks that pass change nothing.
  BOOST_TEST((classify(mutant("18-z"), run_of({{"probe", kPass}}), {check("sparse", "sparse", true)}).outcome ==
              Outcome::Missed));
  // Caught by a check and by a scenario: both listed, the check first.
  const auto both = classify(mutant("18-w"), run_of({{"io", kFail}}), {check("sparse", "sparse", false)});
  BOOST_TEST_REQUIRE(both.caught_by.size() == 2u);
  BOOST_TEST(both.caught_by[0].checker == "sparse");
  BOOST_TEST(both.caught_by[1].scenario == "io");
}

BOOST_AUTO_TEST_CASE(static_checks_are_in_the_json_and_a_failing_one_fails_the_baseline_table) {
  Campaign c;
  c.baseline_passed = true;
  c.baseline_runs = 1;
  c.baseline_static_checks = {check("sparse", "sparse", true)};
  c.results.push_back(classify(mutant("18-x"), run_of({{"probe", kPass}}), {check("uapi-c99", "uapi", false)}));
  const auto j = nlohmann::json::parse(to_json(c));
  BOOST_TEST(j["baseline"]["static_checks"][0]["name"] == "sparse");
  BOOST_TEST(j["baseline"]["static_checks"][0]["passed"] == true);
  BOOST_TEST(j["mutants"][0]["static_checks"][0]["checker"] == "uapi");
  BOOST_TEST(j["mutants"][0]["caught_by"][0]["scenario"] == "uapi-c99");
  BOOST_TEST(j["mutants"][0]["outcome"] == "caught");
  BOOST_TEST(to_table(c).find("uapi-c99 (uapi)") != std::string::npos, to_table(c));

  c.baseline_static_checks = {check("sparse", "sparse", false)};
  c.baseline_failures = failed_static_checks(c.baseline_static_checks);
  c.baseline_runs = 0;
  c.baseline_passed = false;
  BOOST_TEST(!campaign_ok(c));
  const auto table = to_table(c);
  BOOST_TEST(table.find("baseline: FAILED (1 of 1 static checks and 0 of 0 iterations did not pass)") !=
                 std::string::npos,
             table);
  BOOST_TEST(table.find("sparse #0: sparse exit 1") != std::string::npos, table);
}

#define BOOST_TEST_MODULE mutants
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "vscsim/mutants/mutant.h"
#include "vscsim/mutants/score.h"

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
  BOOST_TEST((classify(mutant("12-x", Needs::DebugKernel), run_of({{"io", kFail}}), true).outcome ==
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

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "test_files.h"
#include "vscsim/scenario/load.h"

namespace {

using vscsim::scenario::load_suite;
using vscsim::scenario::parse_scenario;
using vscsim::scenario::testing::errors_of;
using vscsim::scenario::testing::TempDir;

BOOST_AUTO_TEST_CASE(default_suite_loads_without_errors_or_warnings) {
  const auto suite = load_suite(std::filesystem::path(VSCSIM_SCENARIOS_DIR));
  BOOST_TEST_REQUIRE(suite.ok(), errors_of(suite));
  // Every file of the folder loads cleanly; the default suite (issue 6's
  // list) is exactly the scenarios tagged "default".
  std::vector<std::string> defaults;
  for (const auto& s : suite->scenarios) {
    for (const auto& w : s.warnings) BOOST_ERROR(w.str());
    const auto& tags = s.scenario.tags();
    if (std::find(tags.begin(), tags.end(), "default") != tags.end()) defaults.push_back(s.scenario.name());
  }
  const std::vector<std::string> expected = {"concurrent_io", "io", "module_reload", "probe",
                                             "rescind_idle", "rescind_with_open_file", "unbind_bind"};
  BOOST_TEST(defaults == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(default_suite_negative_controls_expect_their_checkers) {
  const auto suite = load_suite(std::filesystem::path(VSCSIM_SCENARIOS_DIR));
  BOOST_TEST_REQUIRE(suite.ok(), errors_of(suite));
  BOOST_TEST_REQUIRE(suite->find("neg_console_warning"));
  BOOST_TEST(suite->find("neg_console_warning")->scenario.expect().checker() == "console");
  BOOST_TEST(suite->find("neg_dropped_response")->scenario.expect().checker() == "expectation");
  BOOST_TEST(!suite->find("no_such_scenario"));
}

// The annotated example in scenarios/README.md must stay a valid scenario.
BOOST_AUTO_TEST_CASE(readme_example_is_a_valid_scenario) {
  std::ifstream in(std::filesystem::path(VSCSIM_SCENARIOS_DIR) / "README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  const auto text = readme.str();
  const auto start = text.find("```textproto\n");
  BOOST_TEST_REQUIRE(start != std::string::npos);
  const auto body = start + std::string("```textproto\n").size();
  const auto end = text.find("```", body);
  const auto loaded = parse_scenario(text.substr(body, end - body), "scenarios/rescind_with_open_file.textproto");
  BOOST_TEST_REQUIRE(loaded.ok(), errors_of(loaded));
  BOOST_TEST(loaded->warnings.empty());
}

BOOST_AUTO_TEST_CASE(every_broken_file_of_a_folder_is_reported_in_one_go) {
  TempDir dir;
  dir.write("good.textproto", "name: \"good\"\n");
  dir.write("b_syntax.textproto", "name: \"b_syntax\"\nthread {\n");
  dir.write("a_semantic.textproto", "name: \"a_semantic\"\nsetup { device { name: \"d\" kind: \"tape\" } }\n");
  dir.write("notes.txt", "not a scenario");
  const auto suite = load_suite(dir.path());
  BOOST_TEST_REQUIRE(!suite.ok());
  const auto& errors = suite.error().errors;
  BOOST_TEST_REQUIRE(errors.size() == 2u, suite.error().str());
  // Sorted by file name, whatever order the folder lists them in.
  BOOST_TEST(errors[0].path == (dir.path() / "a_semantic.textproto").string());
  BOOST_TEST(errors[0].line == 2);
  BOOST_TEST(errors[1].path == (dir.path() / "b_syntax.textproto").string());
}

BOOST_AUTO_TEST_CASE(suite_is_sorted_by_name) {
  TempDir dir;
  for (const char* name : {"zeta", "alpha", "mid"}) dir.write(std::string(name) + ".textproto", "name: \"" + std::string(name) + "\"");
  const auto suite = load_suite(dir.path());
  BOOST_TEST_REQUIRE(suite.ok(), errors_of(suite));
  BOOST_TEST_REQUIRE(suite->scenarios.size() == 3u);
  BOOST_TEST(suite->scenarios[0].scenario.name() == "alpha");
  BOOST_TEST(suite->scenarios[2].scenario.name() == "zeta");
}

BOOST_AUTO_TEST_CASE(a_name_in_two_sources_is_rejected) {
  TempDir one, two;
  one.write("same.textproto", "name: \"same\"");
  const auto copy = two.write("same.textproto", "name: \"same\"");
  const std::vector<std::filesystem::path> sources = {one.path(), copy};
  const auto suite = load_suite(sources);
  BOOST_TEST_REQUIRE(!suite.ok());
  BOOST_TEST_REQUIRE(suite.error().errors.size() == 1u);
  BOOST_TEST(suite.error().errors[0].message.find("is also defined in") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_source_is_an_error) {
  const auto suite = load_suite(std::filesystem::path("/nonexistent/vscsim-scenarios"));
  BOOST_TEST_REQUIRE(!suite.ok());
  BOOST_TEST(suite.error().errors[0].message == "no such file or folder");
}

}  // namespace

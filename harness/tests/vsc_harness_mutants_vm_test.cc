// `vsc-harness mutants` end to end on one cheap mutant: the baseline (the
// suite's unknown_ioctl scenario against the unmutated az_blob) passes, the
// mutant 15-unknown-ioctl-einval is built at run time, loaded through the
// module override, and caught by unknown_ioctl's expectation checker.
#define BOOST_TEST_MODULE vsc_harness_mutants_vm
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "run_command.h"

using vscsim::testing::run_command;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_CASE(mutants_command_reports_the_unknown_ioctl_mutant_caught) {
  const fs::path dir = fs::temp_directory_path() / ("vsc-harness-mutants-vm-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path json = dir / "m.json";
  const auto r = run_command(std::string(VSC_HARNESS_BINARY) +
                             " mutants --filter '15-*' --scenario-filter unknown_ioctl --seed 7 --json " +
                             json.string());
  BOOST_TEST_INFO(r.output);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.output.find("mutation score: 1/1 caught") != std::string::npos);

  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  BOOST_TEST(j["baseline"]["passed"] == true);
  BOOST_TEST(j["baseline"]["runs"] == 1);
  BOOST_TEST_REQUIRE(j["mutants"].size() == 1u);
  const auto& m = j["mutants"][0];
  BOOST_TEST(m["name"] == "15-unknown-ioctl-einval");
  BOOST_TEST(m["outcome"] == "caught");
  BOOST_TEST_REQUIRE(m["caught_by"].size() == 1u);
  BOOST_TEST(m["caught_by"][0]["scenario"] == "unknown_ioctl");
  BOOST_TEST(m["caught_by"][0]["checker"] == "expectation");
  BOOST_TEST(fs::is_regular_file(m["ko"].get<std::string>()));
  BOOST_TEST(j["score"]["caught"] == 1);
  BOOST_TEST(j["ok"] == true);
  fs::remove_all(dir);
}

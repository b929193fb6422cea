// vsc-harness's command line without a guest: `plan` prints the whole plan
// (seeds, devices, faults) and is the same for the same seed; malformed
// scenario files and bad options end with exit status 2 and say where.
#define BOOST_TEST_MODULE vsc_harness_cli
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "vscsim/build_config.h"

using vscsim::testing::has;
using vscsim::testing::run_command;
namespace fs = std::filesystem;

namespace {

const std::string kHarness = VSC_HARNESS_BINARY;

}  // namespace

BOOST_AUTO_TEST_CASE(plan_prints_everything_and_is_seed_determined) {
  const auto a = run_command(kHarness + " plan --seed 42 --repeat 2");
  BOOST_TEST(a.exit_code == 0, a.output);
  for (const char* name : {"probe", "io", "concurrent_io", "unbind_bind", "module_reload", "rescind_idle",
                           "rescind_with_open_file", "neg_dropped_response", "neg_console_warning"}) {
    BOOST_TEST(has(a.output, name), name);
  }
  BOOST_TEST(has(a.output, "drop_completion"), a.output);  // the fault plan is printed
  const auto b = run_command(kHarness + " plan --seed 42 --repeat 2");
  BOOST_TEST(a.output == b.output);
  const auto c = run_command(kHarness + " plan --seed 43 --repeat 2");
  BOOST_TEST(a.output != c.output);
}

BOOST_AUTO_TEST_CASE(shards_split_the_suite) {
  const auto s0 = run_command(kHarness + " plan --seed 1 --shard 0/2 --filter 'rescind_*'");
  const auto s1 = run_command(kHarness + " plan --seed 1 --shard 1/2 --filter 'rescind_*'");
  BOOST_TEST(s0.exit_code == 0, s0.output);
  BOOST_TEST(s1.exit_code == 0, s1.output);
  // rescind_idle and rescind_with_open_file: one in each shard.
  BOOST_TEST((has(s0.output, "rescind_idle") != has(s1.output, "rescind_idle")));
  BOOST_TEST((has(s0.output, "rescind_with_open_file") != has(s1.output, "rescind_with_open_file")));
  BOOST_TEST(!has(s0.output, "probe"));
}

BOOST_AUTO_TEST_CASE(malformed_scenarios_and_bad_options_exit_2_saying_where) {
  vscsim::testing::TempDir dir("vsc-harness-cli");
  std::ofstream(dir.path / "broken.textproto") << "name: \"broken\"\nthread {\n  name: \"main\"\n  step { op { opn {} } }\n}\n";
  const auto r = run_command(kHarness + " run --suite " + (dir.path / "broken.textproto").string());
  BOOST_TEST(r.exit_code == 2, r.output);
  BOOST_TEST(has(r.output, (dir.path / "broken.textproto").string() + ":4:"), r.output);
  BOOST_TEST(has(r.output, "nothing was run"), r.output);

  const auto shard = run_command(kHarness + " run --shard 2/2");
  BOOST_TEST(shard.exit_code == 2, shard.output);
  BOOST_TEST(has(shard.output, "--shard 2/2"), shard.output);
  const auto seed = run_command(kHarness + " run --seed banana");
  BOOST_TEST(seed.exit_code == 2, seed.output);
  const auto kernel = run_command(kHarness + " run --kernel /nonexistent/vmlinuz");
  BOOST_TEST(kernel.exit_code == 2, kernel.output);
  BOOST_TEST(has(kernel.output, "no such file"), kernel.output);
  // The debug kernel is built on request: until then --kernel debug says how.
  if (!fs::exists(vscsim::build_config::kDebugInitramfs)) {
    const auto debug = run_command(kHarness + " run --kernel debug");
    BOOST_TEST(debug.exit_code == 2, debug.output);
    BOOST_TEST(has(debug.output, "--target debug_guest"), debug.output);
  }
}

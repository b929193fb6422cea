// The benchmark paths end to end in a real guest (issue 10), as users run
// them through vsc-bench: the driver against HTTP (azblob bench in the guest,
// over VMBus and over QEMU's user network to vsp-sim's HTTP server on the
// same store), and the fast kernel booting to agent ready and passing the
// default suite. Figures are not judged (benchmarks, not timed tests); that
// every run happened, without errors, with a sane shape, is. Needs `cmake
// --build build --target fast_guest` first; without it the fast-kernel
// cases fail saying so.
#define BOOST_TEST_MODULE bench_vm
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "run_command.h"
#include "vscsim/build_config.h"
#include "vscsim/report/json.h"

using namespace vscsim;
using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;

namespace {

const std::string kBench = VSC_BENCH_BINARY;
const std::string kHarness = VSC_HARNESS_BINARY;

void require_fast_kernel() {
  const auto missing = vscsim::testing::missing_built_kernel(build_config::kFastKernel, build_config::kFastInitramfs,
                                                             "fast", "fast_guest");
  BOOST_REQUIRE_MESSAGE(missing.empty(), missing);
}

}  // namespace

BOOST_AUTO_TEST_CASE(e2e_runs_both_transports_on_the_same_store_and_measures_the_simulator) {
  vscsim::testing::TempDir dir("bench-vm");
  const fs::path json = dir.path / "e2e.json";
  const auto r = run_command(kBench + " e2e --seconds 0.5 --op put --op get --size 4096 --size 1048576 "
                                      "--threads 1 --threads 4 --channels 2 --json " + json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(slurp(json));
  std::set<std::string> seen;
  for (const auto& row : j.at("runs")) {
    const std::string key = row.at("transport").get<std::string>() + " " + row.at("op").get<std::string>() + " " +
                            std::to_string(row.at("size").get<std::uint64_t>()) + " x" +
                            std::to_string(row.at("threads").get<unsigned>());
    seen.insert(key);
    BOOST_TEST(row.at("ops").get<std::uint64_t>() > 0u, key);
    BOOST_TEST(row.at("p50_us").get<double>() > 0, key);
    BOOST_TEST(row.at("p99_us").get<double>() >= row.at("p50_us").get<double>(), key);
    // The simulator served every request, so it spent CPU time on them.
    BOOST_TEST(row.at("sim_cpu_us_per_op").get<double>() > 0, key);
  }
  BOOST_TEST(seen.size() == 16u);  // 2 transports x 2 ops x 2 sizes x 2 thread counts
  BOOST_TEST(seen.count("http get 1048576 x4") == 1u);
  BOOST_TEST(seen.count("vmbus put 4096 x1") == 1u);
  // Two open channels cost the simulator some memory of its own.
  BOOST_TEST(j.at("memory").at("rss_anon_kib_open").get<double>() > j.at("memory").at("rss_anon_kib_closed").get<double>());
  BOOST_TEST(has(r.output, "v/h"));
}

BOOST_AUTO_TEST_CASE(fast_kernel_boots_to_agent_ready_and_passes_the_suite) {
  require_fast_kernel();
  const auto boot = run_command(kBench + " boot --kernel fast --runs 2");
  BOOST_TEST_MESSAGE(boot.output);
  BOOST_TEST(boot.exit_code == 0);
  BOOST_TEST(has(boot.output, "fast "));
  vscsim::testing::TempDir dir("bench-vm-suite");
  const fs::path json = dir.path / "r.json";
  const auto r = run_command(kHarness + " run --kernel fast --seed 42 --keep-going --json " + json.string());
  BOOST_TEST_MESSAGE(r.output);
  BOOST_TEST(r.exit_code == 0);
  auto rep = report::from_json(slurp(json));
  BOOST_REQUIRE_MESSAGE(rep.ok(), (rep.ok() ? std::string() : rep.error()));
  BOOST_TEST(rep->kernel().release() == build_config::kFastKernelRelease);
  BOOST_TEST(rep->totals().runs() > 20u);
  BOOST_TEST(rep->totals().passed() == rep->totals().runs());
  const auto pace = run_command(kBench + " suite-report " + json.string());
  BOOST_TEST(pace.exit_code == 0);
  BOOST_TEST(has(pace.output, "scenarios per minute"), pace.output);
}

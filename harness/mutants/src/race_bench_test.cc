#define BOOST_TEST_MODULE race_bench
#include <boost/test/unit_test.hpp>

#include <set>

#include "vscsim/mutants/race_bench.h"

namespace vm = vscsim::mutants;
namespace vs = vscsim::scenario;

namespace {

constexpr std::string_view kGated = R"(
name: "gated_race"
tags: "race"
tags: "item-7"
thread {
  name: "main"
  step { op { load_module { path: "/lib/vscsim/vscsim_race_gate.ko" } } }
  step { op { open { path: "/dev/azure_blob" slot: "dev" } } }
  step { op { write_file { path: "/sys/kernel/debug/vscsim_race_gate/arm" data: "az_blob.ioctl.checked 20000" } } }
  step { barrier: "armed" }
  step { name: "pause" op { sleep { ms: 500 } } }
  step { op { write_file { path: "/sys/kernel/debug/vscsim_race_gate/release" data: "az_blob.ioctl.checked" } } }
  step { op { read_file { path: "/sys/kernel/debug/vscsim_race_gate/state" } } }
  step { op { write_file { path: "/sys/bus/vmbus/drivers/az_blob/unbind" data: "x" } } }
  step { op { close { slot: "dev" } } }
  step { op { unload_module { name: "vscsim_race_gate" } } }
}
thread {
  name: "caller"
  step { barrier: "armed" }
  step {
    name: "held"
    op { blob { slot: "dev" request { format_version: 1 create_container { container: "c" } } } }
    expect { errno_name: "ENODEV" within_ms: 15000 }
  }
}
)";

vs::LoadedScenario load(std::string_view text, const char* path) {
  auto r = vs::parse_scenario(text, path);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().str()));
  return std::move(r).value();
}

vm::Mutant mutant(std::string name, unsigned item, vm::Needs needs = vm::Needs::Stock) {
  vm::Mutant m;
  m.name = std::move(name);
  m.item = item;
  m.needs = needs;
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ungated_removes_the_gate_and_every_expectation) {
  const auto gated = load(kGated, "gated_race.textproto");
  const auto s = vm::ungated(gated.scenario, 42);
  BOOST_TEST(s.name() == "gated_race-ungated");
  BOOST_TEST(s.seed() == 42u);
  BOOST_REQUIRE_EQUAL(s.thread_size(), 2);
  // main keeps open, the barrier, the sleep, the sysfs write and the close.
  const auto& main = s.thread(0).step();
  BOOST_REQUIRE_EQUAL(main.size(), 5);
  BOOST_TEST(main[0].op().has_open());
  BOOST_TEST(main[1].barrier() == "armed");
  BOOST_TEST(main[2].op().has_sleep());
  BOOST_TEST(main[3].op().write_file().path() == "/sys/bus/vmbus/drivers/az_blob/unbind");
  BOOST_TEST(main[4].op().has_close());
  // Every operation may end any way; the time bounds stay.
  for (const auto& thread : s.thread()) {
    for (const auto& step : thread.step()) {
      if (!step.has_op()) continue;
      BOOST_TEST(step.expect().any_outcome());
      BOOST_TEST(step.expect().errno_name().empty());
    }
  }
  BOOST_TEST(s.thread(1).step(1).expect().within_ms() == 15000u);
  // The gated scenario itself is untouched.
  BOOST_TEST(gated.scenario.thread(0).step_size() == 10);
  BOOST_TEST(gated.scenario.thread(1).step(1).has_expect());
}

BOOST_AUTO_TEST_CASE(ungated_sleeps_are_drawn_from_the_seed) {
  const auto gated = load(kGated, "gated_race.textproto");
  auto sleep_of = [](const vs::Scenario& s) { return s.thread(0).step(2).op().sleep().ms(); };
  // Same seed, same draw; the draws stay within 0..2x and do not all agree.
  BOOST_TEST(sleep_of(vm::ungated(gated.scenario, 7)) == sleep_of(vm::ungated(gated.scenario, 7)));
  std::set<std::uint32_t> seen;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const auto ms = sleep_of(vm::ungated(gated.scenario, seed));
    BOOST_TEST(ms <= 1000u);
    seen.insert(ms);
  }
  BOOST_TEST(seen.size() > 10u);
}

BOOST_AUTO_TEST_CASE(races_pair_by_item_and_skip_debug_kernel_mutants_on_stock) {
  const auto gated = load(kGated, "gated_race.textproto");
  auto untagged_text = std::string(kGated);
  untagged_text.replace(untagged_text.find("tags: \"race\""), 12, "tags: \"lifecycle\"");
  const auto not_a_race = load(untagged_text, "gated_race.textproto");
  const std::vector<vm::Mutant> mutants = {mutant("07-a", 7), mutant("07-b", 7, vm::Needs::DebugKernel),
                                           mutant("03-c", 3)};

  const auto stock = vm::pair_races({gated, not_a_race}, mutants, false);
  BOOST_REQUIRE_EQUAL(stock.size(), 1u);
  BOOST_TEST(stock[0].mutant.name == "07-a");
  BOOST_TEST(stock[0].gated.scenario.name() == "gated_race");

  const auto debug = vm::pair_races({gated}, mutants, true);
  BOOST_REQUIRE_EQUAL(debug.size(), 2u);
  BOOST_TEST(debug[1].mutant.name == "07-b");
}

BOOST_AUTO_TEST_CASE(ok_only_when_every_gated_run_reproduced) {
  vm::RaceBench bench;
  BOOST_TEST(!vm::race_bench_ok(bench));  // nothing measured is not a pass
  vm::RaceResult r;
  r.built = true;
  r.gated_runs = 3;
  r.gated_reproduced = 3;
  bench.results.push_back(r);
  BOOST_TEST(vm::race_bench_ok(bench));
  bench.results[0].gated_reproduced = 2;
  BOOST_TEST(!vm::race_bench_ok(bench));
  bench.results[0].gated_reproduced = 3;
  bench.results[0].built = false;
  BOOST_TEST(!vm::race_bench_ok(bench));
  const auto table = vm::to_table(bench);
  BOOST_TEST(table.find("build failed") != std::string::npos);
}

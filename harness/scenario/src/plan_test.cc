#include "vscsim/scenario/plan.h"

#include "vscsim/scenario/random_faults.h"

#include <boost/test/unit_test.hpp>
#include <set>

namespace {

using namespace vscsim::scenario;

// A suite from texts, as if loaded from files named after each scenario.
Suite suite_of(std::initializer_list<std::pair<const char*, const char*>> scenarios) {
  Suite suite;
  for (const auto& [name, text] : scenarios) {
    auto loaded = parse_scenario(text, std::string("scenarios/") + name + ".textproto");
    if (!loaded.ok()) throw std::runtime_error(loaded.error().str());
    suite.scenarios.push_back(std::move(loaded).value());
  }
  return suite;
}

Suite five() {
  return suite_of({{"alpha", R"(name: "alpha" tags: "default")"},
                   {"bravo", R"(name: "bravo" tags: "default" tags: "rescind")"},
                   {"charlie", R"(name: "charlie" tags: "rescind")"},
                   {"delta", R"(name: "delta" seed: 42)"},
                   {"echo", R"(name: "echo" tags: "negative-control" expect { outcome: FAIL checker: "console" })"}});
}

std::vector<std::string> names(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& run : plan.runs) out.push_back(plan.scenario_of(run).scenario.name());
  return out;
}

BOOST_AUTO_TEST_CASE(seed_mix_is_splitmix64_and_fnv1a_pinned) {
  // Pinned: changing these changes every derived seed, and old seeds would
  // no longer replay.
  BOOST_TEST(mix64(0) == 0xe220a8397b1dcdafULL);
  BOOST_TEST(fnv1a64("") == 0xcbf29ce484222325ULL);
  BOOST_TEST(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  BOOST_TEST(round_seed(7, 0) == 7u);
  BOOST_TEST(round_seed(7, 2) == mix64(mix64(7)));
  BOOST_TEST(scenario_seed(7, "probe") == mix64(7 ^ fnv1a64("probe")));
}

BOOST_AUTO_TEST_CASE(same_run_seed_gives_the_same_plan) {
  const auto suite = five();
  Selection sel;
  sel.repeat = 3;
  const auto a = make_plan(suite, sel, 1234);
  const auto b = make_plan(suite, sel, 1234);
  const auto c = make_plan(suite, sel, 1235);
  BOOST_TEST_REQUIRE(a.ok());
  BOOST_TEST(describe_plan(*a) == describe_plan(*b));
  BOOST_TEST(a->runs.size() == 15u);
  BOOST_TEST(a->runs[0].seed != c->runs[0].seed);
  std::set<std::uint64_t> seeds;
  for (const auto& run : a->runs) {
    if (!run.seed_fixed) seeds.insert(run.seed);
  }
  BOOST_TEST(seeds.size() == 12u);  // 4 unfixed scenarios x 3 iterations, all different
}

BOOST_AUTO_TEST_CASE(runs_go_round_by_round) {
  Selection sel;
  sel.repeat = 2;
  sel.filters = {"alpha", "bravo"};
  const auto plan = make_plan(five(), sel, 1);
  BOOST_TEST_REQUIRE(plan.ok());
  const std::vector<std::string> expected = {"alpha", "bravo", "alpha", "bravo"};
  BOOST_TEST(names(*plan) == expected, boost::test_tools::per_element());
  BOOST_TEST(plan->runs[2].iteration == 1u);
  BOOST_TEST(plan->runs[2].round_seed == round_seed(1, 1));
}

BOOST_AUTO_TEST_CASE(round_seed_replays_one_iteration_as_round_zero) {
  const auto suite = five();
  Selection sel;
  sel.repeat = 4;
  const auto full = make_plan(suite, sel, 99);
  BOOST_TEST_REQUIRE(full.ok());
  const auto& third = full->runs[3 * 5 + 2];  // iteration 3 of charlie
  BOOST_TEST(full->scenario_of(third).scenario.name() == "charlie");
  Selection replay;
  replay.filters = {"charlie"};
  const auto again = make_plan(suite, replay, third.round_seed);
  BOOST_TEST_REQUIRE(again->runs.size() == 1u);
  BOOST_TEST(again->runs[0].seed == third.seed);
}

BOOST_AUTO_TEST_CASE(a_scenario_with_its_own_seed_keeps_it_every_iteration) {
  Selection sel;
  sel.filters = {"delta"};
  sel.repeat = 2;
  const auto plan = make_plan(five(), sel, 5);
  BOOST_TEST_REQUIRE(plan->runs.size() == 2u);
  for (const auto& run : plan->runs) {
    BOOST_TEST(run.seed == 42u);
    BOOST_TEST(run.seed_fixed);
  }
}

BOOST_AUTO_TEST_CASE(filters_are_globs_or_tags_and_any_one_selects) {
  const auto suite = five();
  Selection sel;
  sel.filters = {"tag:rescind", "a*", "e?ho"};
  const auto plan = make_plan(suite, sel, 1);
  const std::vector<std::string> expected = {"alpha", "bravo", "charlie", "echo"};
  BOOST_TEST(names(*plan) == expected, boost::test_tools::per_element());
  sel.filters = {"tag:negative-control"};
  BOOST_TEST(names(*make_plan(suite, sel, 1)) == std::vector<std::string>{"echo"});
  sel.filters = {"nothing*"};
  BOOST_TEST(make_plan(suite, sel, 1)->runs.empty());
}

BOOST_AUTO_TEST_CASE(debug_kernel_scenarios_run_only_on_the_debug_kernel_and_are_named_otherwise) {
  const auto suite = suite_of({{"alpha", R"(name: "alpha")"},
                               {"kasan", R"(name: "kasan" needs_debug_kernel: true)"},
                               {"zulu", R"(name: "zulu" needs_debug_kernel: true)"}});
  Selection sel;
  const auto stock = make_plan(suite, sel, 1);
  BOOST_TEST(names(*stock) == std::vector<std::string>{"alpha"}, boost::test_tools::per_element());
  BOOST_TEST(stock->not_run == (std::vector<std::string>{"kasan", "zulu"}), boost::test_tools::per_element());
  const auto text = describe_plan(*stock);
  BOOST_TEST(text.find("not run: 2 scenario(s) that need the debug kernel (--kernel debug): kasan, zulu") !=
                 std::string::npos,
             text);
  sel.debug_kernel = true;
  const auto debug = make_plan(suite, sel, 1);
  BOOST_TEST(names(*debug) == (std::vector<std::string>{"alpha", "kasan", "zulu"}), boost::test_tools::per_element());
  BOOST_TEST(debug->not_run.empty());
  // A filter that selects only what cannot run leaves an empty plan that says why.
  sel.debug_kernel = false;
  sel.filters = {"kasan"};
  const auto none = make_plan(suite, sel, 1);
  BOOST_TEST(none->runs.empty());
  BOOST_TEST(none->not_run == std::vector<std::string>{"kasan"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shards_split_the_sorted_selection_by_index_mod_count) {
  const auto suite = five();
  Selection sel;
  sel.shard = {1, 2};
  const std::vector<std::string> second = {"bravo", "delta"};
  BOOST_TEST(names(*make_plan(suite, sel, 1)) == second, boost::test_tools::per_element());
  // The shards of one selection cover it, once each.
  std::multiset<std::string> all;
  for (std::uint32_t i = 0; i < 3; ++i) {
    sel.shard = {i, 3};
    for (auto& n : names(*make_plan(suite, sel, 1))) all.insert(n);
  }
  BOOST_TEST(all.size() == 5u);
  BOOST_TEST(std::set<std::string>(all.begin(), all.end()).size() == 5u);
}

BOOST_AUTO_TEST_CASE(command_line_values_are_parsed_or_explained) {
  BOOST_TEST(parse_shard("0/1")->count == 1u);
  BOOST_TEST(parse_shard("2/3")->index == 2u);
  for (const char* bad : {"3/3", "1/0", "1", "a/b", "-1/2", "1/2/3", ""}) {
    BOOST_TEST(!parse_shard(bad).ok(), bad);
  }
  BOOST_TEST(*parse_seed("18446744073709551615") == UINT64_MAX);
  BOOST_TEST(*parse_seed("0x10") == 16u);
  for (const char* bad : {"", "0x", "12a", "-1", "18446744073709551616"}) {
    BOOST_TEST(!parse_seed(bad).ok(), bad);
  }
  BOOST_TEST(!check_filter("").ok());
  BOOST_TEST(!check_filter("tag:").ok());
  Selection sel;
  sel.repeat = 0;
  BOOST_TEST(!make_plan(five(), sel, 1).ok());
  sel.repeat = 1;
  sel.shard = {2, 2};
  BOOST_TEST(!make_plan(five(), sel, 1).ok());
}

BOOST_AUTO_TEST_CASE(describe_plan_prints_seeds_devices_modules_and_faults) {
  const auto suite = suite_of({{"faulty", R"(name: "faulty"
setup {
  device { name: "blob0" kind: "blob" }
  device { name: "kbd" kind: "keyboard" }
  param { key: "az_blob.timeout_ms" value: "1000" }
}
faults {
  rule { device: "blob0" after_requests: 2 count: 1 drop_completion: true }
  rule { device: "blob0" trans_id: 1 flood_ms: 6000 }
  random_rules: 3
})"}});
  const auto plan = make_plan(suite, {}, 77, true);
  const auto text = describe_plan(*plan);
  BOOST_TEST_MESSAGE(text);
  const auto has = [&](const std::string& part) { return text.find(part) != std::string::npos; };
  BOOST_TEST(has("run seed 77 (drawn from /dev/urandom); replay with --seed 77"));
  BOOST_TEST(has("scenario faulty (scenarios/faulty.textproto)"));
  BOOST_TEST(has("devices: blob0 (blob, relid 1), kbd (keyboard, relid 2)"));
  BOOST_TEST(has("modules: vscsim_vmbus, az_blob"));
  BOOST_TEST(has("params: az_blob.timeout_ms=1000"));
  BOOST_TEST(has("    rule {\n      device: \"blob0\"\n      after_requests: 2\n      count: 1\n      drop_completion: true\n    }\n"));
  BOOST_TEST(has("    rule {\n      device: \"blob0\"\n      trans_id: 1\n      flood_ms: 6000\n    }\n"));
  BOOST_TEST(has("random_rules: 3"));
  BOOST_TEST(has("iteration 0: seed " + std::to_string(scenario_seed(77, "faulty")) + ", round seed 77"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(describe_plan_prints_the_quiet_modules) {
  const auto suite = suite_of({{"hush", R"(name: "hush" quiet { module: "az_blob" max_lines: 2 })"},
                               {"loud", R"(name: "loud")"}});
  const auto text = describe_plan(*make_plan(suite, {}, 1, false));
  BOOST_TEST(text.find("  quiet: az_blob (at most 2 console lines each)\n") != std::string::npos, text);
  BOOST_TEST(text.find("quiet:") == text.rfind("quiet:"), text);  // only the scenario that has one
}

BOOST_AUTO_TEST_CASE(random_fault_rules_are_drawn_from_each_iteration_seed_and_printed) {
  const auto suite = suite_of(
      {{"chaos", R"(name: "chaos"
        setup { device { name: "a" kind: "blob" } device { name: "k" kind: "keyboard" } device { name: "b" kind: "blob" } }
        faults { random_rules: 6 })"},
       {"calm", R"(name: "calm")"}});
  auto plan = make_plan(suite, {.filters = {}, .shard = {}, .repeat = 3}, 99);
  BOOST_REQUIRE(plan.ok());
  std::set<std::string> distinct;
  std::set<int> actions;
  for (const auto& run : plan->runs) {
    const auto& s = plan->scenario_of(run).scenario;
    if (s.name() == "calm") {
      BOOST_TEST(run.drawn_faults.empty());
      continue;
    }
    BOOST_REQUIRE(run.drawn_faults.size() == 6u);
    std::string all;
    for (const auto& rule : run.drawn_faults) {
      BOOST_TEST((rule.device() == "a" || rule.device() == "b"), rule.device());  // never the keyboard
      BOOST_TEST(rule.action_case() != vscsim::scenario::FaultRule::ACTION_NOT_SET);
      BOOST_TEST(!rule.has_corrupt());  // would change a successful answer's contents
      if (rule.has_delay_ms()) BOOST_TEST((rule.delay_ms() >= 50u && rule.delay_ms() <= 1000u));
      if (rule.has_drop_completion() || rule.has_wrong_id() || rule.has_truncate()) BOOST_TEST(rule.count() == 1u);
      if (rule.has_truncate()) BOOST_TEST((rule.truncate() >= 1u && rule.truncate() < 12u));
      actions.insert(rule.action_case());
      all += rule.ShortDebugString();
    }
    distinct.insert(all);
    // The same seed draws the same rules.
    auto again = draw_fault_rules(s, run.seed);
    BOOST_REQUIRE(again.size() == run.drawn_faults.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
      BOOST_TEST(again[i].ShortDebugString() == run.drawn_faults[i].ShortDebugString());
    }
  }
  BOOST_TEST(distinct.size() == 3u);  // each iteration its own plan
  BOOST_TEST(actions.size() >= 4u);   // 18 draws spread over the actions
  const std::string text = describe_plan(*plan);
  BOOST_TEST(text.find("drawn fault: rule { device: ") != std::string::npos, text);
}

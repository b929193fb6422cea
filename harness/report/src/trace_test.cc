#include "vscsim/report/trace.h"

#include <boost/test/unit_test.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "sample_report_for_test.h"

namespace {

using namespace vscsim::report;
using nlohmann::json;
using vscsim::report::testing::sample_report;

json events_of(const RunReport& report) { return json::parse(to_chrome_trace(report))["traceEvents"]; }

// "pid/tid" -> lane name, from the metadata events.
std::map<std::pair<int, int>, std::string> lane_names(const json& events) {
  std::map<std::pair<int, int>, std::string> out;
  for (const auto& e : events) {
    if (e["ph"] == "M" && e["name"] == "thread_name") out[{e["pid"], e["tid"]}] = e["args"]["name"];
  }
  return out;
}

const json* find(const json& events, std::string_view ph, std::string_view name) {
  for (const auto& e : events) {
    if (e["ph"] == ph && e["name"] == name) return &e;
  }
  return nullptr;
}

BOOST_AUTO_TEST_CASE(trace_has_a_lane_per_actor_and_channel_in_order) {
  const auto events = events_of(sample_report());
  const auto lanes = lane_names(events);
  BOOST_TEST(lanes.at({1, 0}) == "scenario");
  BOOST_TEST(lanes.at({1, 1}) == "host");
  BOOST_TEST(lanes.at({1, 2}) == "main");
  BOOST_TEST(lanes.at({1, 3}) == "channel:blob0");
  BOOST_TEST(!lanes.contains({1, 4}));
  const auto* process = find(events, "M", "process_name");
  BOOST_TEST_REQUIRE(process);
  BOOST_TEST((*process)["args"]["name"] == "probe seed 111 PASS");
}

BOOST_AUTO_TEST_CASE(steps_are_spans_in_microseconds_from_the_run_start) {
  const auto events = events_of(sample_report());
  const auto* open = find(events, "X", "main#0");
  BOOST_TEST_REQUIRE(open);
  BOOST_TEST((*open)["pid"] == 1);
  BOOST_TEST((*open)["tid"] == 2);
  BOOST_TEST((*open)["ts"].get<double>() == 1.1e6);  // iteration at 1.0 s, step at +0.1 s
  BOOST_TEST((*open)["dur"].get<double>() == 0.2e6, boost::test_tools::tolerance(1e-6));
  BOOST_TEST((*open)["args"]["verdict"] == "MET");
  const auto* rescind = find(events, "X", "host#0");
  BOOST_TEST_REQUIRE(rescind);
  BOOST_TEST((*rescind)["tid"] == 1);
  BOOST_TEST((*rescind)["dur"].get<double>() == 500.0, boost::test_tools::tolerance(1e-6));
  // A step that never ran is not drawn.
  BOOST_TEST(!find(events, "X", "main#4"));
  const auto* whole = find(events, "X", "rescind_with_open_file#1");
  BOOST_TEST_REQUIRE(whole);
  BOOST_TEST((*whole)["args"]["checker"] == "expectation");
  BOOST_TEST((*whole)["pid"] == 2);
}

BOOST_AUTO_TEST_CASE(trace_events_are_instants_or_spans_on_their_lane) {
  const auto events = events_of(sample_report());
  const auto* offer = find(events, "i", "offer");
  BOOST_TEST_REQUIRE(offer);
  BOOST_TEST((*offer)["tid"] == 3);
  BOOST_TEST((*offer)["s"] == "t");
  BOOST_TEST((*offer)["ts"].get<double>() == 1.05e6);
  BOOST_TEST((*offer)["args"]["relid"] == "1");
  BOOST_TEST(!offer->contains("dur"));
  const auto* open = find(events, "X", "open");
  BOOST_TEST_REQUIRE(open);
  BOOST_TEST((*open)["cat"] == "channel");
  BOOST_TEST((*open)["dur"].get<double>() == 0.15e6, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(every_event_has_the_fields_its_phase_needs) {
  for (const auto& e : events_of(sample_report())) {
    BOOST_TEST(e.contains("pid"));
    BOOST_TEST(e.contains("tid"));
    BOOST_TEST(e.contains("name"));
    if (e["ph"] == "X") BOOST_TEST((e.contains("ts") && e.contains("dur")));
    if (e["ph"] == "i") BOOST_TEST(e.contains("ts"));
    BOOST_TEST((e["ph"] == "X" || e["ph"] == "i" || e["ph"] == "M"));
  }
}

}  // namespace

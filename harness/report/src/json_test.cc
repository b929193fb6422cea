#include "vscsim/report/json.h"

#include <google/protobuf/util/message_differencer.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "sample_report_for_test.h"
#include "vscsim/report/run_report.h"

namespace {

using namespace vscsim::report;
using vscsim::report::testing::sample_report;

BOOST_AUTO_TEST_CASE(json_uses_proto_field_names_enum_names_and_prints_zeros) {
  const auto json = nlohmann::json::parse(to_json(sample_report()));
  BOOST_TEST(json["run_seed"] == "1234");  // 64-bit integers are strings in protobuf's JSON
  BOOST_TEST(json["start_time"] == "2023-11-14T22:13:20Z");
  BOOST_TEST(json["host"]["hostname"] == "ci-1");
  const auto& results = json["result"];
  BOOST_TEST_REQUIRE(results.size() == 5u);
  BOOST_TEST(results[0]["status"] == "PASS");
  BOOST_TEST(results[0]["iteration"] == 0);          // present although zero
  BOOST_TEST(results[0]["checker"] == "");           // present although empty
  BOOST_TEST(results[1]["status"] == "FAIL");
  BOOST_TEST(results[1]["round_seed"] == "5678");
  BOOST_TEST(results[1]["duration_s"] == 4.2);
  BOOST_TEST(results[1]["step"][0]["verdict"] == "NOT_MET");
  BOOST_TEST(results[0]["event"][0]["args"]["relid"] == "1");
}

BOOST_AUTO_TEST_CASE(json_with_a_raw_console_is_repaired_not_lost) {
  const auto json = nlohmann::json::parse(to_json(sample_report()));
  const std::string excerpt = json["result"][1]["console_excerpt"];
  BOOST_TEST(excerpt.find("bad byte \xef\xbf\xbd here") != std::string::npos);
  BOOST_TEST(excerpt.find("<az_blob> &") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_reads_back_into_the_same_report) {
  auto report = sample_report();
  report.mutable_result(1)->set_console_excerpt(valid_utf8(report.result(1).console_excerpt()));
  const auto back = from_json(to_json(report));
  BOOST_TEST_REQUIRE(back.ok());
  BOOST_TEST(google::protobuf::util::MessageDifferencer::Equals(*back, report));
  BOOST_TEST(!from_json("{\"run_seed\": [1]}").ok());
  BOOST_TEST(from_json("{\"run_seed\": \"7\", \"added_later\": 1}")->run_seed() == 7u);
}

}  // namespace

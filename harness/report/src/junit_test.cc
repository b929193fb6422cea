#include "vscsim/report/junit.h"

#include <boost/test/unit_test.hpp>

#include "mini_xml_for_test.h"
#include "sample_report_for_test.h"

namespace {

using namespace vscsim::report;
using vscsim::report::testing::parse_xml;
using vscsim::report::testing::sample_report;
using vscsim::report::testing::XmlElement;

BOOST_AUTO_TEST_CASE(junit_has_one_suite_and_a_testcase_per_iteration) {
  const auto xml = to_junit_xml(sample_report());
  BOOST_TEST_MESSAGE(xml);
  const XmlElement root = parse_xml(xml);
  BOOST_TEST(root.name == "testsuites");
  BOOST_TEST(root.attr("tests") == "5");
  const auto& suite = root.only("testsuite");
  BOOST_TEST(suite.attr("tests") == "5");
  BOOST_TEST(suite.attr("failures") == "1");
  BOOST_TEST(suite.attr("errors") == "1");
  BOOST_TEST(suite.attr("skipped") == "1");
  BOOST_TEST(suite.attr("time") == "42.500");
  BOOST_TEST(suite.attr("timestamp") == "2023-11-14T22:13:20");
  BOOST_TEST(suite.attr("hostname") == "ci-1");
  std::map<std::string, std::string> properties;
  for (const auto* p : suite.only("properties").all("property")) properties[p->attr("name")] = p->attr("value");
  BOOST_TEST(properties["run_seed"] == "1234");
  BOOST_TEST(properties["guest_kernel"] == "6.1.0-50-cloud-amd64");
  BOOST_TEST(properties["command_line"] == "vsc-harness run --seed 1234");

  const auto cases = suite.all("testcase");
  BOOST_TEST_REQUIRE(cases.size() == 5u);
  BOOST_TEST(cases[0]->attr("classname") == "scenarios.probe");
  BOOST_TEST(cases[0]->attr("name") == "probe");
  BOOST_TEST(cases[0]->attr("time") == "1.250");
  BOOST_TEST(cases[0]->all("failure").empty());
  BOOST_TEST(cases[1]->attr("name") == "rescind_with_open_file#1");
  BOOST_TEST(cases[1]->attr("file") == "scenarios/rescind_with_open_file.textproto");
  BOOST_TEST(cases[3]->only("error").attr("type") == "harness");
  BOOST_TEST(cases[3]->only("error").attr("message") == "the guest did not boot");
  BOOST_TEST(cases[4]->only("skipped").attr("message") == "an earlier scenario failed (no --keep-going)");
  BOOST_TEST(cases[2]->only("system-out").text.find("negative control: must fail by console") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(failure_carries_the_checker_message_and_rerun_command) {
  const auto root = parse_xml(to_junit_xml(sample_report()));
  const auto& failed = *root.only("testsuite").all("testcase")[1];
  const auto& failure = failed.only("failure");
  BOOST_TEST(failure.attr("type") == "expectation");
  BOOST_TEST(failure.attr("message") == "after_rescind: expected ENODEV, got success <&>");
  BOOST_TEST(failure.text == "after_rescind: expected ENODEV, got success <&>\n"
                             "rerun: vsc-harness run --filter rescind_with_open_file --seed 5678");
}

BOOST_AUTO_TEST_CASE(console_excerpt_survives_markup_controls_and_bad_bytes) {
  const auto root = parse_xml(to_junit_xml(sample_report()));
  const auto& out = root.only("testsuite").all("testcase")[1]->only("system-out").text;
  BOOST_TEST(out.find("seed 222, round seed 5678\n") == 0u);
  // Markup comes back as it was; controls XML cannot carry and the byte that
  // is not UTF-8 are spelled out; CR survives as a reference.
  BOOST_TEST(out.find("[ 1.0] <az_blob> & \"quoted\" 'single'\\x07\\x1B[0m\n") != std::string::npos, out);
  BOOST_TEST(out.find("bad byte \\xFF here\r\n") != std::string::npos, out);
  BOOST_TEST(out.find("gr\xc3\xbc\xc3\x9f") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(xml_escape_keeps_attribute_whitespace_as_references) {
  BOOST_TEST(xml_escape("a\tb\nc\rd", true) == "a&#9;b&#10;c&#13;d");
  BOOST_TEST(xml_escape("a\tb\nc\rd", false) == "a\tb\nc&#13;d");
  BOOST_TEST(xml_escape("\"'", true) == "&quot;&apos;");
  BOOST_TEST(xml_escape("\"'", false) == "\"'");
  BOOST_TEST(xml_escape(std::string("nul\0", 4), false) == "nul\\x00");
  BOOST_TEST(xml_escape("\xef\xbf\xbe", false) == "\\uFFFE");
  BOOST_TEST(xml_escape("]]>", false) == "]]&gt;");
}

// The reader must reject what a CI parser rejects, or the tests above prove nothing.
BOOST_AUTO_TEST_CASE(mini_xml_reader_rejects_malformed_documents) {
  const std::vector<std::string> malformed = {"<a>&#1;</a>", "<a>\x01</a>", "<a><b></a></b>", "<a x=1/>",
                                              "<a>&nbsp;</a>", "<a x=\"1\" x=\"2\"/>", "<a/><b/>", "<a>\xff</a>",
                                              "<a x=\"<\"/>", "<a>]]></a>", "<a>"};
  for (const auto& bad : malformed) {
    BOOST_CHECK_THROW(parse_xml(bad), std::runtime_error);
  }
  BOOST_TEST(parse_xml("<?xml version=\"1.0\"?>\n<a x='1'><!-- c --><b/>t&amp;&#x41;</a>\n").text == "t&A");
}

}  // namespace

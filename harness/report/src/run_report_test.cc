#define BOOST_TEST_MODULE report
#include "vscsim/report/run_report.h"

#include <stdlib.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>

#include "sample_report_for_test.h"

namespace {

using namespace vscsim::report;
using vscsim::report::testing::sample_report;

BOOST_AUTO_TEST_CASE(totals_count_each_status) {
  const auto t = count_totals(sample_report());
  BOOST_TEST(t.runs() == 5u);
  BOOST_TEST(t.passed() == 2u);
  BOOST_TEST(t.failed() == 1u);
  BOOST_TEST(t.errors() == 1u);
  BOOST_TEST(t.skipped() == 1u);
}

BOOST_AUTO_TEST_CASE(label_adds_the_iteration_after_the_first) {
  const auto report = sample_report();
  BOOST_TEST(result_label(report.result(0)) == "probe");
  BOOST_TEST(result_label(report.result(1)) == "rescind_with_open_file#1");
}

BOOST_AUTO_TEST_CASE(rerun_command_replays_with_the_round_seed_and_kernel) {
  auto report = sample_report();
  BOOST_TEST(rerun_command(report, report.result(1)) ==
             "vsc-harness run --filter rescind_with_open_file --seed 5678");
  report.mutable_options()->set_kernel("/tmp/my kernel/bzImage");
  BOOST_TEST(rerun_command(report, report.result(1)) ==
             "vsc-harness run --filter rescind_with_open_file --seed 5678 --kernel '/tmp/my kernel/bzImage'");
}

BOOST_AUTO_TEST_CASE(valid_utf8_replaces_only_what_is_broken) {
  BOOST_TEST(valid_utf8("gr\xc3\xbc\xc3\x9f") == "gr\xc3\xbc\xc3\x9f");
  BOOST_TEST(valid_utf8("a\xff" "b") == "a\xef\xbf\xbd" "b");
  BOOST_TEST(valid_utf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");     // overlong '/'
  BOOST_TEST(valid_utf8("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  BOOST_TEST(valid_utf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");     // cut short
}

BOOST_AUTO_TEST_CASE(console_excerpt_keeps_the_last_lines_within_the_byte_cap) {
  const std::string console = "one\r\ntwo\nthree\nfour\n\n";
  BOOST_TEST(console_excerpt(console, 2) == "three\nfour");
  BOOST_TEST(console_excerpt(console, 10) == "one\ntwo\nthree\nfour");
  BOOST_TEST(console_excerpt(console, 0) == "");
  BOOST_TEST(console_excerpt("no newline", 3) == "no newline");
  // Over the byte cap: start at the next line start.
  BOOST_TEST(console_excerpt("aaaaaaaa\nbb\ncc", 10, 6) == "bb\ncc");
  BOOST_TEST(console_excerpt("aaaaaaaa\nbbb\ncc", 10, 6) == "bbb\ncc");  // the cap falls on a line start
  BOOST_TEST(console_excerpt("aaaaaaaa\nbbbb\ncc", 10, 6) == "cc");
  BOOST_TEST(console_excerpt("bad \xff", 1) == "bad \xef\xbf\xbd");
}

BOOST_AUTO_TEST_CASE(text_file_is_written_or_the_reason_given) {
  char dir[] = "/tmp/vscsim-report-XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/out.txt";
  BOOST_TEST(write_text_file(path, "hello\n").ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  BOOST_TEST(text.str() == "hello\n");
  const auto bad = write_text_file(std::string(dir) + "/missing/out.txt", "x");
  BOOST_TEST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().find("cannot write") != std::string::npos);
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace

#include "text.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>

namespace {

using namespace vscsim::report::detail;

BOOST_AUTO_TEST_CASE(code_points_decode_and_reject_what_utf8_forbids) {
  std::size_t at = 0;
  BOOST_TEST(static_cast<std::uint32_t>(next_code_point("\xf0\x9f\x98\x80", at).value()) == 0x1F600u);
  BOOST_TEST(at == 4u);
  for (const std::string bad : {"\x80", "\xc1\xbf", "\xe0\x80\x80", "\xf4\x90\x80\x80", "\xed\xbf\xbf", "\xf8"}) {
    at = 0;
    BOOST_TEST(!next_code_point(bad, at).has_value(), bad.size());
    BOOST_TEST(at == 1u);
  }
}

BOOST_AUTO_TEST_CASE(cut_counts_code_points_and_marks_the_cut) {
  BOOST_TEST(code_points("gr\xc3\xbc\xc3\x9f") == 4u);
  BOOST_TEST(cut_to("gr\xc3\xbc\xc3\x9f", 4) == "gr\xc3\xbc\xc3\x9f");
  BOOST_TEST(cut_to("gr\xc3\xbc\xc3\x9f" "e", 4) == "gr\xc3\xbc\u2026");
  BOOST_TEST(seconds_text(4.25) == "4.2 s");
  BOOST_TEST(seconds_text(4.25, 3) == "4.250 s");
}

}  // namespace

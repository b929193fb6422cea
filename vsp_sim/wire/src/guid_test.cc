#define BOOST_TEST_MODULE wire_test
#include "vscsim/wire/guid.h"

#include <boost/test/unit_test.hpp>

namespace vscsim::wire {
namespace {

BOOST_AUTO_TEST_SUITE(guid)

BOOST_AUTO_TEST_CASE(guid_parses_into_guid_t_byte_order) {
  auto g = Guid::parse("0590b792-db64-45cc-81db-b8d70c577c9e");
  BOOST_REQUIRE(g.has_value());
  const std::array<std::uint8_t, 16> want{0x92, 0xb7, 0x90, 0x05, 0x64, 0xdb, 0xcc, 0x45,
                                          0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e};
  BOOST_TEST(g->bytes == want);
}

BOOST_AUTO_TEST_CASE(guid_prints_what_it_parsed) {
  const char* text = "d4573da2-2caa-4711-a8f9-bbabf4ee9685";
  BOOST_TEST(Guid::parse(text)->to_string() == text);
  BOOST_TEST(Guid::parse("D4573DA2-2CAA-4711-A8F9-BBABF4EE9685")->to_string() == text);
}

BOOST_AUTO_TEST_CASE(guid_rejects_malformed_text) {
  BOOST_TEST(!Guid::parse(""));
  BOOST_TEST(!Guid::parse("{0590b792-db64-45cc-81db-b8d70c577c9e}"));
  BOOST_TEST(!Guid::parse("0590b792-db64-45cc-81db-b8d70c577c9"));
  BOOST_TEST(!Guid::parse("0590b792-db64-45cc-81db-b8d70c577c9e0"));
  BOOST_TEST(!Guid::parse("0590b792xdb64-45cc-81db-b8d70c577c9e"));
  BOOST_TEST(!Guid::parse("0590b792-db64-45cc-81db-b8d70c577c9g"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::wire

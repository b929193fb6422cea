#include "vscsim/scenario/errno_names.h"

#include <boost/test/unit_test.hpp>
#include <cerrno>

namespace {

using namespace vscsim::scenario;

BOOST_AUTO_TEST_CASE(errno_names_map_to_linux_numbers_and_back) {
  BOOST_TEST(errno_number("ENODEV").value() == ENODEV);
  BOOST_TEST(errno_number("EHWPOISON").value() == 133);
  BOOST_TEST(errno_number("ETIMEDOUT").value() == 110);
  BOOST_TEST(!errno_number("ENODEVV").has_value());
  BOOST_TEST(!errno_number("enodev").has_value());
  BOOST_TEST(errno_name(ENOENT) == "ENOENT");
  BOOST_TEST(errno_name(0) == "");
  BOOST_TEST(errno_name(9999) == "");
}

BOOST_AUTO_TEST_CASE(aliases_are_accepted_but_the_canonical_name_is_returned) {
  BOOST_TEST(errno_number("EWOULDBLOCK").value() == EAGAIN);
  BOOST_TEST(errno_number("ENOTSUP").value() == EOPNOTSUPP);
  BOOST_TEST(errno_number("EDEADLOCK").value() == EDEADLK);
  BOOST_TEST(errno_name(EAGAIN) == "EAGAIN");
  BOOST_TEST(errno_name(EOPNOTSUPP) == "EOPNOTSUPP");
}

BOOST_AUTO_TEST_CASE(every_number_from_1_to_133_has_a_name) {
  // Linux numbers its errnos densely from 1 to EHWPOISON, except 41 and 58
  // (never assigned).
  for (int n = 1; n <= 133; ++n) {
    if (n == 41 || n == 58) continue;
    BOOST_TEST(!errno_name(n).empty(), n);
  }
}

BOOST_AUTO_TEST_CASE(success_is_empty_or_zero) {
  BOOST_TEST(is_expected_errno(""));
  BOOST_TEST(is_expected_errno("0"));
  BOOST_TEST(is_expected_errno("EIO"));
  BOOST_TEST(!is_expected_errno("00"));
  BOOST_TEST(!is_expected_errno("5"));
}

}  // namespace

#define BOOST_TEST_MODULE base_test
#include "vscsim/base/result.h"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

namespace vscsim {
namespace {

struct Problem {
  int code;
};

Result<int, Problem> half(int x) {
  if (x % 2 != 0) return Err(Problem{x});
  return x / 2;
}

BOOST_AUTO_TEST_SUITE(result)

BOOST_AUTO_TEST_CASE(result_holds_value_on_success) {
  auto r = half(8);
  BOOST_TEST(r.ok());
  BOOST_TEST(static_cast<bool>(r));
  BOOST_TEST(r.value() == 4);
  BOOST_TEST(*r == 4);
}

BOOST_AUTO_TEST_CASE(result_holds_error_on_failure) {
  auto r = half(7);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error().code == 7);
}

BOOST_AUTO_TEST_CASE(result_tells_error_from_value_of_same_type) {
  Result<std::string, std::string> good = std::string("fine");
  Result<std::string, std::string> bad = Err(std::string("broken"));
  BOOST_TEST(good.ok());
  BOOST_TEST(good.value() == "fine");
  BOOST_TEST(!bad.ok());
  BOOST_TEST(bad.error() == "broken");
}

BOOST_AUTO_TEST_CASE(result_moves_out_move_only_values) {
  Result<std::unique_ptr<int>, Problem> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  BOOST_TEST(*p == 5);
}

BOOST_AUTO_TEST_CASE(void_result_reports_success_and_error) {
  Result<void, Problem> good = Ok<Problem>();
  Result<void, Problem> bad = Err(Problem{3});
  BOOST_TEST(good.ok());
  BOOST_TEST(!bad.ok());
  BOOST_TEST(bad.error().code == 3);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim

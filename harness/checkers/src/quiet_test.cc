#define BOOST_TEST_MODULE quiet
#include "vscsim/checkers/quiet.h"

#include <boost/test/unit_test.hpp>

using vscsim::checkers::check_quiet;

namespace {

// A console as the serial port captures it: the transport's and another
// driver's lines around az_blob's own.
constexpr const char* kConsole =
    "[    2.100000] vscsim_vmbus: offer relid 1\n"
    "[    2.200000] az_blob: loading out-of-tree module taints kernel.\n"
    "[    2.200100] az_blob: module verification failed: signature and/or required key missing - tainting kernel\n"
    "[    2.300000] az_blob 9f3f5b1e-4b6c-4f3e-8d2a-6b1c0b10b000: probed, ring 64 KiB\r\n"
    "[    2.400000] az_blob: bad request from pid 97\n"
    "[    2.500000] az_blob_other: not az_blob\n"
    "az_blob: echoed by user space, not the kernel\n"
    "[    2.600000] hv_vmbus: az_blob is mentioned, but not the speaker\n";

}  // namespace

BOOST_AUTO_TEST_CASE(dev_and_pr_lines_of_the_module_count_and_others_do_not) {
  const auto noisy = check_quiet(kConsole, {"az_blob"}, 0);
  BOOST_TEST_REQUIRE(noisy.size() == 1u);
  BOOST_TEST(noisy[0].module == "az_blob");
  // The dev_info line and the pr_err line; not the loader's notices, the
  // longer module name, user space's echo or another module's line.
  BOOST_TEST(noisy[0].count == 2u);
  BOOST_TEST_REQUIRE(noisy[0].lines.size() == 2u);
  BOOST_TEST(noisy[0].lines[0] == "[    2.300000] az_blob 9f3f5b1e-4b6c-4f3e-8d2a-6b1c0b10b000: probed, ring 64 KiB");
  BOOST_TEST(noisy[0].lines[1] == "[    2.400000] az_blob: bad request from pid 97");
}

BOOST_AUTO_TEST_CASE(up_to_max_lines_is_quiet_enough) {
  BOOST_TEST(check_quiet(kConsole, {"az_blob"}, 2).empty());
  BOOST_TEST(check_quiet(kConsole, {"az_blob"}, 1).size() == 1u);
  BOOST_TEST(check_quiet(kConsole, {"storvsc"}, 0).empty());
  BOOST_TEST(check_quiet("", {"az_blob"}, 0).empty());
}

BOOST_AUTO_TEST_CASE(each_module_is_judged_on_its_own_lines) {
  const auto noisy = check_quiet(kConsole, {"vscsim_vmbus", "storvsc", "az_blob_other"}, 0);
  BOOST_TEST_REQUIRE(noisy.size() == 2u);
  BOOST_TEST(noisy[0].module == "vscsim_vmbus");
  BOOST_TEST(noisy[0].count == 1u);
  BOOST_TEST(noisy[1].module == "az_blob_other");
}

BOOST_AUTO_TEST_CASE(a_flood_is_counted_in_full_and_shown_in_part) {
  std::string flood;
  for (int i = 0; i < 120; ++i) flood += "[   10.000000] az_blob 9f3f5b1e: invalid request\n";
  const auto noisy = check_quiet(flood, {"az_blob"}, 0);
  BOOST_TEST_REQUIRE(noisy.size() == 1u);
  BOOST_TEST(noisy[0].count == 120u);
  BOOST_TEST(noisy[0].lines.size() == 5u);
  const auto text = vscsim::checkers::describe(noisy, 0);
  BOOST_TEST(text.find("az_blob printed 120 console line(s), at most 0 allowed:") == 0u, text);
  BOOST_TEST(text.find("... 115 more") != std::string::npos, text);
}

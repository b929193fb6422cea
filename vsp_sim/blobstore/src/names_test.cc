#define BOOST_TEST_MODULE blobstore_test
#include <boost/test/unit_test.hpp>

#include <string>

#include "vscsim/blobstore/names.h"

namespace bs = vscsim::blobstore;
using namespace std::string_literals;

BOOST_AUTO_TEST_CASE(container_names_are_1_to_63_bytes_of_lower_case_digits_and_dashes) {
  for (const std::string& ok : {"a"s, "abc-123"s, "-"s, std::string(63, 'z')}) {
    BOOST_TEST(bs::check_container_name(ok).ok(), ok);
  }
  for (const std::string& bad :
       {""s, std::string(64, 'a'), "A"s, "a_b"s, "a/b"s, ".."s, "a b"s, "a\0b"s, "\xc3\xa9"s}) {
    BOOST_TEST(!bs::check_container_name(bad).ok(), bad.size());
  }
}

BOOST_AUTO_TEST_CASE(blob_names_are_utf8_without_nul_or_leading_slash) {
  for (const std::string& ok : {"a"s, "dir/file"s, "../x"s, "a/../../b"s, "\xc3\xa9t\xc3\xa9"s,
                               "\xe6\x97\xa5\xe6\x9c\xac"s, "\xf0\x9f\x98\x80"s, "%2F"s,
                               std::string(1024, 'x')}) {
    BOOST_TEST(bs::check_blob_name(ok).ok(), ok.size());
  }
  for (const std::string& bad : {
           ""s, std::string(1025, 'x'), "/x"s, "/"s, "a\0b"s, "\0"s,
           "\xff"s,              // never in UTF-8
           "\x80"s,              // continuation first
           "\xc0\xaf"s,          // overlong '/'
           "\xe0\x80\xaf"s,      // overlong, three bytes
           "\xed\xa0\x80"s,      // a surrogate
           "\xf4\x90\x80\x80"s,  // above U+10FFFF
           "\xe6\x97"s,          // cut short
           "a\xc3"s,             // cut short at the end
       }) {
    BOOST_TEST(!bs::check_blob_name(bad).ok(), bad.size());
  }
}

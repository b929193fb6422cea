#define BOOST_TEST_MODULE agent_fill
#include "vscsim/agent/fill.h"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace vscsim::agent;

namespace {

std::string hex_of(std::string_view text) {
  return to_hex(digest_bytes(sha256(std::as_bytes(std::span(text.data(), text.size())))));
}

std::string hex_of(const std::vector<std::byte>& bytes) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

BOOST_AUTO_TEST_CASE(sha256_matches_the_fips_180_examples) {
  BOOST_TEST(hex_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(hex_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(hex_of(std::string(1000000, 'a')) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(sha256_is_the_same_however_the_input_is_split) {
  const std::string text(1000, 'z');
  for (std::size_t cut : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 999u}) {
    Sha256 h;
    h.update(std::as_bytes(std::span(text.data(), cut)));
    h.update(std::as_bytes(std::span(text.data() + cut, text.size() - cut)));
    BOOST_TEST(to_hex(digest_bytes(h.finish())) == hex_of(text), "cut at " << cut);
  }
}

BOOST_AUTO_TEST_CASE(fill_is_xorshift64_star_little_endian) {
  BOOST_TEST(hex_of(fill_bytes(1, 16)) == "1ddd6c894bcee4471d6579e0a8a6cfab");
  // Seed 0 stands for the replacement constant, not for a stream of zeros.
  BOOST_TEST(hex_of(fill_bytes(0, 5)) == "7a48219ae2");
  BOOST_TEST(to_hex(digest_bytes(sha256(fill_bytes(42, 1 << 20)))) ==
             "06c21eaf6bead7a456dbe52ac5ecf207108fdc48576903e4c6875d036a6fa64f");
}

BOOST_AUTO_TEST_CASE(fill_in_pieces_continues_the_same_stream) {
  const auto whole = fill_bytes(7, 100);
  FillGenerator g(7);
  std::vector<std::byte> pieces(100);
  g.fill(std::span(pieces).subspan(0, 3));
  g.fill(std::span(pieces).subspan(3, 50));
  g.fill(std::span(pieces).subspan(53));
  BOOST_TEST(pieces == whole);
}

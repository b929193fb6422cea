#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "vscsim/http/request_parser.h"

namespace vscsim::http {
namespace {

using State = RequestParser::State;

// Feeds `bytes` in pieces of `step` bytes (0: all at once), as a connection
// would after each read, and returns the bytes consumed in all.
std::size_t feed_in_steps(RequestParser& parser, std::string_view bytes, std::size_t step = 0) {
  std::size_t used = 0;
  if (step == 0) step = bytes.size();
  while (used < bytes.size()) {
    const std::string_view piece = bytes.substr(used, step);
    const std::size_t took = parser.feed(piece);
    used += took;
    if (took < piece.size()) break;  // the request ended, or was refused
  }
  return used;
}

// Parses `text`, which must be exactly one whole request, and returns it.
Request parse_one(std::string_view text, ParserLimits limits = {}) {
  RequestParser p(limits);
  BOOST_TEST(p.feed(text) == text.size());
  BOOST_TEST_REQUIRE(p.state() == State::kDone);
  return p.take();
}

BOOST_AUTO_TEST_SUITE(request_parser)

BOOST_AUTO_TEST_CASE(parses_a_get_and_lower_cases_header_names) {
  RequestParser p;
  const std::string text = "GET /c/b%20x HTTP/1.1\r\nHost: 127.0.0.1:80\r\nX-Thing:  spaced value \t\r\n\r\n";
  BOOST_TEST(p.feed(text) == text.size());
  BOOST_TEST_REQUIRE(p.state() == State::kDone);
  const Request r = p.take();
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.target == "/c/b%20x");
  BOOST_TEST(r.minor_version == 1);
  BOOST_TEST(r.keep_alive);
  BOOST_TEST(!r.has_content_length);
  BOOST_TEST(r.body.empty());
  BOOST_TEST_REQUIRE(r.header("x-thing") != nullptr);
  BOOST_TEST(*r.header("x-thing") == "spaced value");
  BOOST_TEST(*r.header("host") == "127.0.0.1:80");
  BOOST_TEST(p.state() == State::kHead);
  BOOST_TEST(!p.started());
}

BOOST_AUTO_TEST_CASE(a_body_split_byte_by_byte_arrives_whole) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body.push_back(static_cast<char>(i * 7 + 3));
  const std::string text =
      "PUT /c/b HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}}) {
    RequestParser p;
    BOOST_TEST(feed_in_steps(p, text, step) == text.size());
    BOOST_TEST_REQUIRE(p.state() == State::kDone);
    BOOST_TEST(p.request().has_content_length);
    BOOST_TEST(p.request().content_length == body.size());
    BOOST_TEST(p.request().body == body);
  }
}

BOOST_AUTO_TEST_CASE(waits_in_body_until_the_last_byte) {
  RequestParser p;
  const std::string head = "PUT /c/b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  BOOST_TEST(p.feed(head) == head.size());
  BOOST_TEST(p.state() == State::kBody);
  BOOST_TEST(p.body_remaining() == 3u);
  BOOST_TEST(p.feed("ab") == 2u);
  BOOST_TEST(p.state() == State::kBody);
  BOOST_TEST(p.feed("cGET") == 1u);  // stops at the end of the body
  BOOST_TEST(p.state() == State::kDone);
  BOOST_TEST(p.request().body == "abc");
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_taken_one_at_a_time_in_order) {
  const std::string first = "PUT /c/one HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy";
  const std::string second = "GET /c/two HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string third = "DELETE /c/three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  std::string stream = first + second + third;
  RequestParser p;
  std::vector<Request> got;
  for (int guard = 0; guard < 10 && !stream.empty(); ++guard) {
    stream.erase(0, p.feed(stream));
    BOOST_TEST_REQUIRE(p.state() == State::kDone);
    got.push_back(p.take());
  }
  BOOST_TEST_REQUIRE(got.size() == 3u);
  BOOST_TEST(got[0].target == "/c/one");
  BOOST_TEST(got[0].body == "xy");
  BOOST_TEST(got[1].method == "GET");
  BOOST_TEST(got[1].target == "/c/two");
  BOOST_TEST(got[2].method == "DELETE");
  BOOST_TEST(!got[2].keep_alive);
}

BOOST_AUTO_TEST_CASE(keep_alive_follows_version_and_connection_header) {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: h\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n", true},
      {"GET / HTTP/1.0\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n", true},
      {"GET / HTTP/1.9\r\nHost: h\r\n", true},  // a later 1.x is taken as 1.1
  };
  for (const Case& c : cases) {
    BOOST_TEST_INFO("head: " << c.head);
    BOOST_TEST(parse_one(c.head + "\r\n").keep_alive == c.keep_alive);
  }
}

BOOST_AUTO_TEST_CASE(bare_line_feeds_and_leading_blank_lines_are_accepted) {
  BOOST_TEST(parse_one("\r\n\nPUT /c/b HTTP/1.1\nHost: h\nContent-Length: 1\n\nz").body == "z");
}

BOOST_AUTO_TEST_CASE(expect_continue_is_reported_only_with_a_body) {
  RequestParser with_body;
  const std::string a = "PUT /c/b HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n";
  BOOST_TEST(with_body.feed(a) == a.size());
  BOOST_TEST(with_body.state() == State::kBody);
  BOOST_TEST(with_body.request().expect_continue);

  BOOST_TEST(!parse_one("PUT /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

BOOST_AUTO_TEST_CASE(identical_repeated_content_lengths_are_one_length) {
  BOOST_TEST(parse_one("PUT /c/b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok").body ==
             "ok");
}

struct Malformed {
  std::string name;
  std::string text;
  int status;
  std::string says;  // a piece of the message
};

std::vector<Malformed> malformed_cases() {
  const std::string h = "Host: h\r\n";
  return {
      {"chunked", "PUT /c/b HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n", 501, "Transfer-Encoding"},
      {"chunked with a length", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
       501, "chunked"},
      {"gzip coding", "PUT /c/b HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 501, "not supported"},
      {"no host", "GET /c/b HTTP/1.1\r\n\r\n", 400, "Host"},
      {"two hosts", "GET /c/b HTTP/1.1\r\n" + h + h + "\r\n", 400, "more than one Host"},
      {"double space", "GET  /c/b HTTP/1.1\r\n" + h + "\r\n", 400, "request line"},
      {"trailing word", "GET /c/b HTTP/1.1 extra\r\n" + h + "\r\n", 400, "request line"},
      {"no version", "GET /c/b\r\n" + h + "\r\n", 400, "request line"},
      {"only a method", "GET\r\n\r\n", 400, "request line"},
      {"tab separator", "GET\t/c/b HTTP/1.1\r\n" + h + "\r\n", 400, "request line"},
      {"method not a token", "G@T /c/b HTTP/1.1\r\n" + h + "\r\n", 400, "method"},
      {"absolute target", "GET http://h/c/b HTTP/1.1\r\n" + h + "\r\n", 400, "starting with '/'"},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\n" + h + "\r\n", 400, "starting with '/'"},
      {"control byte in target", std::string("GET /c/\x01 HTTP/1.1\r\n") + h + "\r\n", 400, "visible ASCII"},
      {"high byte in target", std::string("GET /c/\xc3\xa9 HTTP/1.1\r\n") + h + "\r\n", 400, "visible ASCII"},
      {"lower-case version", "GET /c/b http/1.1\r\n" + h + "\r\n", 400, "version"},
      {"short version", "GET /c/b HTTP/1\r\n" + h + "\r\n", 400, "version"},
      {"letter version", "GET /c/b HTTP/1.x\r\n" + h + "\r\n", 400, "version"},
      {"version 2", "GET /c/b HTTP/2.0\r\n" + h + "\r\n", 505, "HTTP version 2.0"},
      {"version 0.9", "GET /c/b HTTP/0.9\r\n" + h + "\r\n", 505, "not supported"},
      {"header without colon", "GET /c/b HTTP/1.1\r\n" + h + "NoColonHere\r\n\r\n", 400, "without ':'"},
      {"space before colon", "GET /c/b HTTP/1.1\r\nHost : h\r\n\r\n", 400, "not a token"},
      {"empty header name", "GET /c/b HTTP/1.1\r\n" + h + ": value\r\n\r\n", 400, "not a token"},
      {"folded header", "GET /c/b HTTP/1.1\r\n" + h + "X-A: a\r\n  continued\r\n\r\n", 400, "folded"},
      {"control byte in value", "GET /c/b HTTP/1.1\r\n" + h + std::string("X-A: a\x01z\r\n\r\n"), 400,
       "control byte"},
      {"NUL in value", "GET /c/b HTTP/1.1\r\n" + h + std::string("X-A: a\0z\r\n\r\n", 12), 400, "control byte"},
      {"bare CR", "GET /c/b HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n", 400, "carriage return"},
      {"length not a number", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: abc\r\n\r\n", 400, "not a decimal"},
      {"negative length", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400, "not a decimal"},
      {"signed length", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: +1\r\n\r\n", 400, "not a decimal"},
      {"empty length", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length:\r\n\r\n", 400, "not a decimal"},
      {"length list", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: 1, 1\r\n\r\n", 400, "not a decimal"},
      {"conflicting lengths", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
       "conflicting"},
      {"length over the limit", "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: 1025\r\n\r\n", 413, "over the limit"},
      {"length overflowing 64 bits",
       "PUT /c/b HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999999\r\n\r\n", 413, "over the limit"},
  };
}

BOOST_AUTO_TEST_CASE(every_malformed_shape_gets_its_status_and_message) {
  for (const Malformed& m : malformed_cases()) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      BOOST_TEST_INFO("case: " << m.name << ", step " << step);
      RequestParser p(ParserLimits{.max_head_bytes = kDefaultMaxHeadBytes, .max_body_bytes = 1024});
      feed_in_steps(p, m.text, step);
      BOOST_TEST_REQUIRE(p.state() == State::kFailed);
      BOOST_TEST(p.error().status == m.status);
      BOOST_TEST(p.error().message.find(m.says) != std::string::npos, "message: " << p.error().message);
      BOOST_TEST(p.error().message.find('\n') == std::string::npos);
      // Refused is final: nothing more is consumed until reset().
      BOOST_TEST(p.feed("GET / HTTP/1.1\r\n") == 0u);
      BOOST_TEST(p.state() == State::kFailed);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_body_of_exactly_the_limit_is_accepted) {
  BOOST_TEST(parse_one("PUT /c/b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd",
                       ParserLimits{.max_head_bytes = kDefaultMaxHeadBytes, .max_body_bytes = 4})
                 .body == "abcd");
}

// A head of exactly `size` bytes: request line, Host, one filler header, blank line.
std::string head_of_size(std::size_t size) {
  const std::string start = "GET /c/b HTTP/1.1\r\nHost: h\r\nX-Fill: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'f') + end;
}

BOOST_AUTO_TEST_CASE(the_head_may_be_16_kib_and_not_a_byte_more) {
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{1000}}) {
    RequestParser at_limit;
    const std::string fits = head_of_size(kDefaultMaxHeadBytes);
    BOOST_TEST(feed_in_steps(at_limit, fits, step) == fits.size());
    BOOST_TEST(at_limit.state() == State::kDone);

    RequestParser over;
    feed_in_steps(over, head_of_size(kDefaultMaxHeadBytes + 1), step);
    BOOST_TEST_REQUIRE(over.state() == State::kFailed);
    BOOST_TEST(over.error().status == 431);
    BOOST_TEST(over.error().message == "the request line and headers are longer than 16384 bytes");
  }
}

BOOST_AUTO_TEST_CASE(an_endless_line_is_refused_at_the_limit_without_growing) {
  RequestParser p;
  const std::string chunk(4096, 'a');
  std::size_t fed = 0;
  for (int i = 0; i < 100 && p.state() == State::kHead; ++i) fed += p.feed(chunk);
  BOOST_TEST_REQUIRE(p.state() == State::kFailed);
  BOOST_TEST(p.error().status == 431);
  BOOST_TEST(fed <= kDefaultMaxHeadBytes + chunk.size());
}

BOOST_AUTO_TEST_CASE(blank_lines_alone_count_against_the_head_limit) {
  RequestParser p;
  const std::string blanks(kDefaultMaxHeadBytes + 2, '\n');
  p.feed(blanks);
  BOOST_TEST_REQUIRE(p.state() == State::kFailed);
  BOOST_TEST(p.error().status == 431);
}

BOOST_AUTO_TEST_CASE(reset_starts_over_after_a_refusal) {
  RequestParser p;
  p.feed("BAD\r\n\r\n");
  BOOST_TEST_REQUIRE(p.state() == State::kFailed);
  p.reset();
  const std::string good = "GET /c/b HTTP/1.1\r\nHost: h\r\n\r\n";
  BOOST_TEST(p.feed(good) == good.size());
  BOOST_TEST(p.state() == State::kDone);
  BOOST_TEST(p.request().target == "/c/b");
}

BOOST_AUTO_TEST_CASE(percent_decoding_takes_pairs_of_hex_digits) {
  std::string out;
  BOOST_TEST(percent_decode("a%41%2f%2Fz", out));
  BOOST_TEST(out == "aA//z");
  BOOST_TEST(percent_decode("%00", out));
  BOOST_TEST(out == std::string(1, '\0'));
  BOOST_TEST(percent_decode("", out));
  BOOST_TEST(out.empty());
  for (std::string_view bad : {"%", "%4", "a%zz", "%g0", "%%41", "x%4"}) {
    BOOST_TEST_INFO("input: " << bad);
    BOOST_TEST(!percent_decode(bad, out));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::http

#define BOOST_TEST_MODULE agent_framing
#include "vscsim/agent/framing.h"

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

using namespace vscsim::agent;

namespace {

std::string frame(std::string_view payload) {
  const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
  return std::string(header.data(), header.size()) + std::string(payload);
}

std::vector<std::string> drain(FrameDecoder& decoder) {
  std::vector<std::string> out;
  while (auto event = decoder.next()) out.push_back(event->frame ? event->frame->payload : "<oversize>");
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(header_is_little_endian_length) {
  const auto h = frame_header(0x01020304);
  BOOST_TEST(h[0] == 0x04);
  BOOST_TEST(h[3] == 0x01);
}

BOOST_AUTO_TEST_CASE(frames_split_at_every_byte_come_out_whole) {
  const std::string stream = frame("hello") + frame("") + frame(std::string(300, 'x'));
  FrameDecoder decoder;
  std::vector<std::string> got;
  for (char c : stream) {
    decoder.feed(std::string_view(&c, 1));
    for (auto& f : drain(decoder)) got.push_back(f);
  }
  BOOST_TEST(got.size() == 3u);
  BOOST_TEST(got[0] == "hello");
  BOOST_TEST(got[1].empty());
  BOOST_TEST(got[2] == std::string(300, 'x'));
  BOOST_TEST(!decoder.mid_frame());
}

BOOST_AUTO_TEST_CASE(several_frames_in_one_read_come_out_in_order) {
  FrameDecoder decoder;
  decoder.feed(frame("a") + frame("bc") + frame("def").substr(0, 5));
  BOOST_TEST(drain(decoder) == (std::vector<std::string>{"a", "bc"}));
  BOOST_TEST(decoder.mid_frame());
  decoder.feed(frame("def").substr(5));
  BOOST_TEST(drain(decoder) == (std::vector<std::string>{"def"}));
}

BOOST_AUTO_TEST_CASE(oversize_header_is_reported_once_and_its_bytes_skipped) {
  FrameDecoder decoder(16);
  const std::string big(17, 'B');
  decoder.feed(frame(big).substr(0, 10));  // the header and part of the body
  auto event = decoder.next();
  BOOST_REQUIRE(event);
  BOOST_REQUIRE(event->oversize);
  BOOST_TEST(event->oversize->declared == 17u);
  BOOST_TEST(!decoder.next());
  decoder.feed(frame(big).substr(10) + frame("after"));
  BOOST_TEST(drain(decoder) == (std::vector<std::string>{"after"}));
}

BOOST_AUTO_TEST_CASE(garbage_that_looks_small_decodes_as_a_frame_of_garbage) {
  // Framing cannot tell garbage from a message; the layer above refuses it.
  FrameDecoder decoder;
  decoder.feed(std::string("\x03\x00\x00\x00xyz", 7));
  BOOST_TEST(drain(decoder) == (std::vector<std::string>{"xyz"}));
}

BOOST_AUTO_TEST_CASE(reset_forgets_a_partial_frame) {
  FrameDecoder decoder;
  decoder.feed(frame("abcdef").substr(0, 6));
  decoder.reset();
  decoder.feed(frame("new"));
  BOOST_TEST(drain(decoder) == (std::vector<std::string>{"new"}));
}

BOOST_AUTO_TEST_CASE(a_large_frame_goes_through_a_small_socket_buffer) {
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  const int size = 4096;
  ::setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  const std::string payload(3 << 20, 'p');
  std::string received;
  std::thread reader([&] {
    FrameDecoder decoder;
    char buf[1000];
    for (;;) {
      const ssize_t n = ::read(pair[1], buf, sizeof buf);  // small reads: many partial writes
      if (n <= 0) break;
      decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      if (auto event = decoder.next()) {
        received = event->frame->payload;
        break;
      }
    }
  });
  BOOST_TEST(write_frame(pair[0], payload) == 0);
  reader.join();
  BOOST_TEST(received == payload);
  ::close(pair[0]);
  ::close(pair[1]);
}

BOOST_AUTO_TEST_CASE(write_refuses_a_payload_over_the_limit_and_times_out_on_a_full_socket) {
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
  BOOST_TEST(write_frame(pair[0], std::string(kMaxFramePayload + 1, 'x')) == EMSGSIZE);
  // Nobody reads: the write waits for room until its deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  BOOST_TEST(write_frame(pair[0], std::string(8 << 20, 'y'), {}, deadline) == ETIMEDOUT);
  ::close(pair[0]);
  ::close(pair[1]);
}

BOOST_AUTO_TEST_CASE(write_to_a_closed_peer_is_epipe_not_a_signal) {
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  ::close(pair[1]);
  BOOST_TEST(write_frame(pair[0], "x") == EPIPE);
  ::close(pair[0]);
}

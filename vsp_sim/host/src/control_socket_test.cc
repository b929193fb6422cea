// ControlSocket in both spellings against a real Host: text lines, the
// "proto 1" switch and frames, and input that must only close its client.
#include "vscsim/host/control_socket.h"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "src/control_client_test_util.h"
#include "vscsim/host/host.h"

namespace vh = vscsim::host;
namespace vc = vscsim::control;
using vh::testing::ControlClient;
using namespace std::chrono_literals;

namespace {

// A host with a keyboard and a blob device behind a control socket that a
// thread of its own polls (the socket and the host are touched by it alone).
inline int next_number = 0;

struct Served {
  explicit Served(bool with_proto = true)
      : path(std::filesystem::temp_directory_path() /
             ("ctl-test-" + std::to_string(::getpid()) + "-" + std::to_string(next_number++))),
        host("/nonexistent", std::move(vh::make_devices({"keyboard", "blob"})).value()),
        socket(
            path, [this](std::string_view line) { return host.command(line); },
            with_proto ? vh::ControlSocket::ProtoHandler([this](const vc::Request& r) { return host.execute(r); })
                       : vh::ControlSocket::ProtoHandler()),
        poller([this] {
          while (!stop) {
            socket.poll();
            clients = socket.clients();
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  ~Served() {
    stop = true;
    poller.join();
  }
  std::filesystem::path path;
  vh::Host host;
  vh::ControlSocket socket;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> clients{0};
  std::thread poller;
};

vc::Request state_request(std::uint64_t id) {
  vc::Request r;
  r.set_id(id);
  r.mutable_state();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(proto_1_switches_a_connection_to_frames_and_text_goes_on_elsewhere) {
  Served s;
  ControlClient text(s.path);
  ControlClient proto(s.path);
  BOOST_REQUIRE(text.connected() && proto.connected());
  BOOST_REQUIRE(text.send_raw("state\n"));
  BOOST_TEST(text.read_line().value_or("").rfind("ok session=none | relid=none", 0) == 0u);

  BOOST_REQUIRE(proto.switch_to_proto());
  const auto st = proto.call(state_request(7));
  BOOST_REQUIRE(st.has_value());
  BOOST_TEST(st->id() == 7u);
  BOOST_TEST(st->ok());
  BOOST_REQUIRE_EQUAL(st->state().channel_size(), 2);
  BOOST_TEST(st->state().channel(1).kind() == "blob");

  vc::Request drop;
  drop.set_id(8);
  drop.mutable_blob_drop()->set_relid(2);
  drop.mutable_blob_drop()->set_count(1);
  const auto dropped = proto.call(drop);
  BOOST_REQUIRE(dropped.has_value());
  BOOST_TEST(dropped->id() == 8u);
  BOOST_TEST(dropped->ok());
  drop.set_id(9);
  drop.mutable_blob_drop()->set_relid(1);
  const auto refused = proto.call(drop);
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(!refused->ok());
  BOOST_TEST(refused->error() == "relid 1 is not a blob device");
  // Both connections see the one host.
  BOOST_REQUIRE(text.send_raw("state\n"));
  BOOST_TEST(text.read_line().value_or("").find(" drop=1 after=0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_may_follow_the_switch_at_once_and_are_answered_in_order) {
  Served s;
  ControlClient c(s.path);
  vc::Request clear;
  clear.set_id(2);
  clear.mutable_trace_clear();
  BOOST_REQUIRE(c.send_raw("proto 1\n" + ControlClient::frame(state_request(1).SerializeAsString()) +
                           ControlClient::frame(clear.SerializeAsString())));
  BOOST_TEST(c.read_line().value_or("") == "ok proto 1");
  const auto first = c.read_response();
  const auto second = c.read_response();
  BOOST_REQUIRE(first.has_value() && second.has_value());
  BOOST_TEST(first->id() == 1u);
  BOOST_TEST(first->has_state());
  BOOST_TEST(second->id() == 2u);
  BOOST_TEST(second->ok());
}

BOOST_AUTO_TEST_CASE(a_frame_split_across_writes_is_put_together) {
  Served s;
  ControlClient c(s.path);
  BOOST_REQUIRE(c.switch_to_proto());
  const std::string f = ControlClient::frame(state_request(11).SerializeAsString());
  BOOST_REQUIRE(f.size() > 6);
  for (const std::string_view part : {std::string_view(f).substr(0, 2), std::string_view(f).substr(2, 3),
                                      std::string_view(f).substr(5)}) {
    BOOST_REQUIRE(c.send_raw(part));
    std::this_thread::sleep_for(20ms);
  }
  const auto a = c.read_response();
  BOOST_REQUIRE(a.has_value());
  BOOST_TEST(a->id() == 11u);
  BOOST_TEST(a->has_state());
  // An empty frame is a request without a command: refused, the connection stays.
  BOOST_REQUIRE(c.send_raw(ControlClient::frame("")));
  const auto empty = c.read_response();
  BOOST_REQUIRE(empty.has_value());
  BOOST_TEST(!empty->ok());
  BOOST_TEST(empty->error() == "no command in the request");
  BOOST_TEST(c.call(state_request(12)).has_value());
}

BOOST_AUTO_TEST_CASE(an_oversized_frame_is_refused_and_its_client_closed) {
  Served s;
  ControlClient c(s.path);
  BOOST_REQUIRE(c.switch_to_proto());
  // 1 MiB + 1 declared: nothing of the body needs to arrive.
  BOOST_REQUIRE(c.send_raw(std::string("\x01\x00\x10\x00", 4)));
  const auto a = c.read_response();
  BOOST_REQUIRE(a.has_value());
  BOOST_TEST(a->id() == 0u);
  BOOST_TEST(!a->ok());
  BOOST_TEST(a->error().find("over the limit") != std::string::npos, a->error());
  BOOST_TEST(c.closed_by_peer());
  // The socket serves others as before.
  ControlClient next(s.path);
  BOOST_REQUIRE(next.switch_to_proto());
  BOOST_TEST(next.call(state_request(1)).has_value());
}

BOOST_AUTO_TEST_CASE(garbage_in_a_frame_is_refused_and_its_client_closed) {
  Served s;
  ControlClient c(s.path);
  BOOST_REQUIRE(c.switch_to_proto());
  // Tag 0x0f: field 1 with wire type 7, which does not exist.
  BOOST_REQUIRE(c.send_raw(ControlClient::frame(std::string(16, '\x0f'))));
  const auto a = c.read_response();
  BOOST_REQUIRE(a.has_value());
  BOOST_TEST(!a->ok());
  BOOST_TEST(a->error() == "the frame is not a control.Request");
  BOOST_TEST(c.closed_by_peer());
  // A client that closes halfway through a frame is simply gone.
  {
    ControlClient half(s.path);
    BOOST_REQUIRE(half.switch_to_proto());
    BOOST_REQUIRE(half.send_raw(std::string("\x40\x00\x00\x00partial", 11)));
  }
  for (int i = 0; i < 500 && s.clients != 0; ++i) std::this_thread::sleep_for(2ms);
  BOOST_TEST(s.clients == 0u);
}

BOOST_AUTO_TEST_CASE(text_mode_refuses_other_versions_and_long_lines) {
  Served s;
  ControlClient c(s.path);
  BOOST_REQUIRE(c.send_raw("proto 2\n"));
  BOOST_TEST(c.read_line().value_or("").rfind("error proto:", 0) == 0u);
  BOOST_REQUIRE(c.send_raw("help\n"));  // still in text
  BOOST_TEST(c.read_line().value_or("").rfind("ok state", 0) == 0u);
  BOOST_REQUIRE(c.send_raw(std::string(vh::ControlSocket::kMaxLine + 10, 'x')));
  BOOST_TEST(c.read_line().value_or("") == "error line too long");
  BOOST_TEST(c.closed_by_peer());

  Served text_only(false);
  ControlClient t(text_only.path);
  BOOST_REQUIRE(t.send_raw("proto 1\nstate\n"));
  BOOST_TEST(t.read_line().value_or("") == "error protobuf not served");
  BOOST_TEST(t.read_line().value_or("").rfind("ok session=none", 0) == 0u);
}

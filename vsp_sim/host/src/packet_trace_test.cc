// PacketTrace on its own: bounded, the relid of each message type, the JSON
// lines a checker reads.
#include "vscsim/host/packet_trace.h"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vscsim/devices/device.h"
#include "vscsim/wire/channel_messages.h"

namespace vh = vscsim::host;
namespace w = vscsim::wire;

namespace {

template <class Msg>
std::vector<std::byte> bytes_of(const Msg& m) {
  std::vector<std::byte> out(sizeof m);
  std::memcpy(out.data(), &m, sizeof m);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_trace_keeps_the_newest_events_and_counts_the_rest) {
  vh::PacketTrace trace(3);
  for (std::uint64_t i = 1; i <= 5; ++i) {
    trace.record({i, vh::TraceEvent::Kind::kGuestPacket, 2, 9, 1, i, 56});
  }
  BOOST_REQUIRE_EQUAL(trace.events().size(), 3u);
  BOOST_TEST(trace.events().front().trans_id == 3u);
  BOOST_TEST(trace.dropped() == 2u);
  const std::string json = trace.to_json_lines();
  BOOST_TEST(json.find(R"("kind":"guest_packet","relid":2,"type":9,"type_name":"gpa_direct","flags":1,"trans_id":5,"length":56)") !=
             std::string::npos, json);
  BOOST_TEST(json.find(R"({"end":true,"events":3,"dropped":2})") != std::string::npos, json);
  trace.clear();
  BOOST_TEST(trace.events().empty());
  BOOST_TEST(trace.dropped() == 0u);
}

BOOST_AUTO_TEST_CASE(messages_carry_the_relid_their_type_names) {
  w::RescindOfferMsg rescind{};
  rescind.header.msgtype = w::ChannelMessageType::kRescindChannelOffer;
  rescind.child_relid = 7;
  BOOST_TEST(vh::message_relid(bytes_of(rescind)).value_or(0) == 7u);
  w::OfferChannelMsg offer{};
  offer.header.msgtype = w::ChannelMessageType::kOfferChannel;
  offer.child_relid = 3;
  BOOST_TEST(vh::message_relid(bytes_of(offer)).value_or(0) == 3u);
  // A rescind cut short names nothing; a type without a relid names nothing.
  auto shortened = bytes_of(rescind);
  shortened.resize(sizeof(w::ChannelMessageHeader) + 2);
  BOOST_TEST(!vh::message_relid(shortened).has_value());
  w::ChannelMessageHeader request_offers{w::ChannelMessageType::kRequestOffers, 0};
  BOOST_TEST(!vh::message_relid(bytes_of(request_offers)).has_value());

  vh::PacketTrace trace;
  trace.record_message(vh::TraceEvent::Kind::kHostMessage, bytes_of(rescind));
  BOOST_REQUIRE_EQUAL(trace.events().size(), 1u);
  BOOST_TEST(trace.events()[0].type == 2u);
  BOOST_TEST(trace.events()[0].relid == 7u);
  BOOST_TEST(trace.to_json_lines().find(R"("kind":"host_message","relid":7,"type":2,"type_name":"rescind")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_dump_is_written_whole_and_a_bad_path_is_an_error) {
  vh::PacketTrace trace;
  trace.record({1, vh::TraceEvent::Kind::kHostPacket, 1, 11, 0, 4, 12});
  const auto dir = std::filesystem::temp_directory_path() / ("trace-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "trace.jsonl").string();
  BOOST_REQUIRE(trace.write_json_lines(path).ok());
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  BOOST_TEST(text.str() == trace.to_json_lines());
  BOOST_TEST(!std::filesystem::exists(path + ".partial"));
  const auto bad = trace.write_json_lines((dir / "missing" / "trace.jsonl").string());
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().find("cannot write") != std::string::npos, bad.error());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_host_fault_is_a_line_of_its_own_kind_naming_the_fault) {
  vh::PacketTrace trace;
  trace.record({5, vh::TraceEvent::Kind::kHostFault, 2,
                static_cast<std::uint32_t>(vscsim::devices::HostFault::kDropCompletion), 0, 17, 0});
  BOOST_TEST(trace.to_json_lines().find(
                 R"({"t_ns":5,"kind":"host_fault","relid":2,"type":1,"type_name":"drop_completion","flags":0,)"
                 R"("trans_id":17,"length":0,"fault":"drop_completion","arg":0})"
                 "\n") == 0u,
             trace.to_json_lines());
}

BOOST_AUTO_TEST_CASE(every_host_fault_has_a_stable_name_and_carries_its_arg) {
  for (std::uint8_t f = 1; f <= vscsim::devices::kLastHostFault; ++f) {
    BOOST_TEST(vscsim::devices::name(static_cast<vscsim::devices::HostFault>(f)) != "?", int{f});
  }
  vh::PacketTrace trace;
  trace.record({5, vh::TraceEvent::Kind::kHostFault, 1,
                static_cast<std::uint32_t>(vscsim::devices::HostFault::kWrongId), 0, 3, 0, 99});
  BOOST_TEST(trace.to_json_lines().find(R"("fault":"wrong_id","arg":99})") != std::string::npos,
             trace.to_json_lines());
}

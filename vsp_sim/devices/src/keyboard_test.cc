#define BOOST_TEST_MODULE devices_test
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "vscsim/devices/keyboard.h"

namespace vd = vscsim::devices;
namespace kbd = vscsim::devices::kbd;
using vscsim::wire::PacketType;

namespace {

struct Sent {
  PacketType type;
  std::uint64_t trans_id;
  std::vector<std::byte> payload;
};

struct FakePort : vd::ChannelPort {
  vd::SendStatus send(PacketType type, std::uint16_t, std::uint64_t trans_id,
                      std::span<const std::byte> payload) override {
    if (status != vd::SendStatus::kOk) return status;
    sent.push_back({type, trans_id, {payload.begin(), payload.end()}});
    return vd::SendStatus::kOk;
  }
  // The keyboard never reads guest memory.
  const vscsim::memory::GuestMemory& guest_memory() const override { std::abort(); }
  vd::SendStatus status = vd::SendStatus::kOk;
  std::vector<Sent> sent;
};

// A packet as the ring reader hands it out: descriptor (offset8 = 2), payload.
struct Packet {
  Packet(PacketType type, std::span<const std::byte> payload) {
    bytes.resize(16 + ((payload.size() + 7) & ~std::size_t{7}));
    std::memcpy(bytes.data() + 16, payload.data(), payload.size());
    view.descriptor.type = static_cast<std::uint16_t>(type);
    view.descriptor.offset8 = 2;
    view.descriptor.len8 = static_cast<std::uint16_t>(bytes.size() / 8);
    view.descriptor.flags = 1;
    view.descriptor.trans_id = 0xabc;
    std::memcpy(bytes.data(), &view.descriptor, sizeof view.descriptor);
    view.bytes = bytes;
  }
  std::vector<std::byte> bytes;
  vscsim::ring::PacketView view;
};

template <class T>
Packet inband(const T& msg) {
  return Packet(PacketType::kDataInband, std::as_bytes(std::span(&msg, 1)));
}

template <class T>
T decode(const Sent& s) {
  BOOST_REQUIRE_EQUAL(s.payload.size(), sizeof(T));
  T out;
  std::memcpy(&out, s.payload.data(), sizeof out);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(keyboard_guid_matches_hyperv_keyboard_alias) {
  // modinfo -F alias hyperv-keyboard.ko: vmbus:6dad12f9172bea48bd65f927a61c7684
  const std::array<std::uint8_t, 16> alias{0x6d, 0xad, 0x12, 0xf9, 0x17, 0x2b, 0xea, 0x48,
                                           0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76, 0x84};
  BOOST_TEST(vd::Keyboard::default_interface().bytes == alias);
}

BOOST_AUTO_TEST_CASE(keyboard_accepts_version_1_0_with_an_inband_response) {
  vd::Keyboard k;
  FakePort port;
  k.open(port);
  BOOST_TEST(k.state() == vd::KeyboardState::kOpen);
  auto p = inband(kbd::ProtocolRequest{kbd::kProtocolRequest, kbd::kVersion1_0});
  k.packet(p.view);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST((port.sent[0].type == PacketType::kDataInband));
  const auto r = decode<kbd::ProtocolResponse>(port.sent[0]);
  BOOST_TEST(r.type == kbd::kProtocolResponse);
  BOOST_TEST(r.status == kbd::kProtocolAccepted);
  BOOST_TEST(k.state() == vd::KeyboardState::kNegotiated);
}

BOOST_AUTO_TEST_CASE(keyboard_refuses_other_versions) {
  vd::Keyboard k;
  FakePort port;
  k.open(port);
  auto p = inband(kbd::ProtocolRequest{kbd::kProtocolRequest, (2u << 16)});
  k.packet(p.view);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(decode<kbd::ProtocolResponse>(port.sent[0]).status == 0u);
  BOOST_TEST(k.state() == vd::KeyboardState::kRefused);
  BOOST_TEST(!k.key(0x1e, vd::KeyAction::kPress).ok());
}

BOOST_AUTO_TEST_CASE(keyboard_ignores_short_and_foreign_packets) {
  vd::Keyboard k;
  FakePort port;
  k.open(port);
  const std::uint32_t type_only = kbd::kProtocolRequest;
  auto short_req = inband(type_only);  // padded to 8 bytes, but the payload is 8: see below
  // A 2-byte payload: not even a type.
  const std::uint16_t tiny = 1;
  auto tiny_p = inband(tiny);
  tiny_p.view.bytes = std::span<const std::byte>(tiny_p.bytes).first(18);
  k.packet(tiny_p.view);
  auto comp = Packet(PacketType::kCompletion, std::as_bytes(std::span(&type_only, 1)));
  k.packet(comp.view);
  const std::uint32_t unknown = 77;
  auto unk = inband(unknown);
  unk.view.bytes = std::span<const std::byte>(unk.bytes).first(20);
  k.packet(unk.view);
  short_req.view.bytes = std::span<const std::byte>(short_req.bytes).first(20);
  k.packet(short_req.view);
  BOOST_TEST(port.sent.empty());
  BOOST_TEST(k.bad_packets() == 4u);
  BOOST_TEST(k.state() == vd::KeyboardState::kOpen);
}

BOOST_AUTO_TEST_CASE(keyboard_press_sends_make_then_break) {
  vd::Keyboard k;
  FakePort port;
  BOOST_TEST(!k.key(0x1e, vd::KeyAction::kPress).ok());  // not open
  k.open(port);
  auto p = inband(kbd::ProtocolRequest{kbd::kProtocolRequest, kbd::kVersion1_0});
  k.packet(p.view);
  port.sent.clear();
  BOOST_REQUIRE(k.key(0x1e, vd::KeyAction::kPress).ok());
  BOOST_REQUIRE_EQUAL(port.sent.size(), 2u);
  const auto down = decode<kbd::Keystroke>(port.sent[0]);
  const auto up = decode<kbd::Keystroke>(port.sent[1]);
  BOOST_TEST(down.type == kbd::kEvent);
  BOOST_TEST(down.make_code == 0x1e);
  BOOST_TEST(down.info == 0u);
  BOOST_TEST(up.info == kbd::kInfoBreak);
  BOOST_TEST(k.keys_sent() == 2u);

  port.sent.clear();
  BOOST_REQUIRE(k.key(0xe01d, vd::KeyAction::kDown).ok());  // right Ctrl
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(decode<kbd::Keystroke>(port.sent[0]).info == kbd::kInfoE0);
  BOOST_TEST(decode<kbd::Keystroke>(port.sent[0]).make_code == 0x1d);

  BOOST_TEST(!k.key(0x9e, vd::KeyAction::kPress).ok());    // a break code
  BOOST_TEST(!k.key(0x1234, vd::KeyAction::kPress).ok());  // not a prefix
  port.status = vd::SendStatus::kFull;
  BOOST_TEST(!k.key(0x1e, vd::KeyAction::kPress).ok());
  k.close();
  BOOST_TEST(k.state() == vd::KeyboardState::kClosed);
  BOOST_TEST(!k.key(0x1e, vd::KeyAction::kPress).ok());
}

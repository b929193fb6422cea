#define BOOST_TEST_MODULE host_test
#include <boost/test/unit_test.hpp>

#include <array>
#include <functional>
#include <string>
#include <utility>

#include "src/test_guest_fixture.h"
#include "vscsim/devices/keyboard.h"

namespace vh = vscsim::host;
namespace vd = vscsim::devices;
namespace kbd = vscsim::devices::kbd;
namespace w = vscsim::wire;
using vh::testing::SessionFixture;
using vscsim::transport::layout::kVectorChannel;
using vscsim::transport::layout::kVectorControl;

namespace {

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
  return std::as_bytes(std::span(&v, 1));
}

// The payload of a packet the guest received (descriptor skipped).
template <class T>
T payload_of(const std::vector<std::byte>& packet) {
  w::VmpacketDescriptor d{};
  std::memcpy(&d, packet.data(), sizeof d);
  BOOST_REQUIRE_EQUAL(d.type, static_cast<std::uint16_t>(w::PacketType::kDataInband));
  T out{};
  BOOST_REQUIRE(packet.size() >= std::size_t{d.offset8} * 8 + sizeof out);
  std::memcpy(&out, packet.data() + std::size_t{d.offset8} * 8, sizeof out);
  return out;
}

void negotiate(SessionFixture& f) {
  f.send_inband(1, bytes_of(kbd::ProtocolRequest{kbd::kProtocolRequest, kbd::kVersion1_0}));
  auto p = f.ring_guest->receive();
  BOOST_REQUIRE(p.has_value());
  BOOST_REQUIRE(payload_of<kbd::ProtocolResponse>(*p).status == kbd::kProtocolAccepted);
  (void)f.ring_guest->close_receive();
}

}  // namespace

BOOST_AUTO_TEST_CASE(session_offers_keyboard_and_opens_its_ring) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  f.connect();
  const auto offer = f.guest->take<w::OfferChannelMsg>(w::ChannelMessageType::kOfferChannel);
  BOOST_TEST(offer.child_relid == 1u);
  BOOST_TEST(offer.offer.if_type.to_string() == vd::Keyboard::default_interface().to_string());
  BOOST_TEST(offer.offer.if_instance.to_string() == kb.instance().to_string());
  f.guest->take<w::AllOffersDeliveredMsg>(w::ChannelMessageType::kAllOffersDelivered);
  BOOST_TEST(f.count_signals(kVectorControl) >= 2u);  // every batch of posts rings vector 0

  BOOST_TEST(f.open(1) == 0u);
  BOOST_TEST(kb.state() == vd::KeyboardState::kOpen);
  BOOST_TEST(f.session->describe_channel(1).starts_with("channel=open ring=open g2h=[w=0x0 r=0x0 mask=0 pend=0] h2g=["));
}

BOOST_AUTO_TEST_CASE(session_answers_protocol_request_through_the_rings_with_one_signal) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  const auto before = f.count_signals(kVectorChannel);
  f.send_inband(1, bytes_of(kbd::ProtocolRequest{kbd::kProtocolRequest, kbd::kVersion1_0}));
  BOOST_TEST(kb.state() == vd::KeyboardState::kNegotiated);
  // The response went into an empty, unmasked ring: exactly one signal, with
  // the relid's bit set in the host-to-guest bitmap.
  BOOST_TEST(f.count_signals(kVectorChannel) == before + 1);
  BOOST_TEST(f.guest->guest_events.test(1));
  auto p = f.ring_guest->receive();
  BOOST_REQUIRE(p.has_value());
  const auto resp = payload_of<kbd::ProtocolResponse>(*p);
  BOOST_TEST(resp.type == kbd::kProtocolResponse);
  BOOST_TEST(resp.status == kbd::kProtocolAccepted);
  BOOST_TEST(!f.ring_guest->receive().has_value());
  BOOST_TEST(f.session->stats().packets_read == 1u);
}

BOOST_AUTO_TEST_CASE(host_keystrokes_are_batched_into_one_signal_and_masked_rings_get_none) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  negotiate(f);
  auto n = f.count_signals(kVectorChannel);
  BOOST_REQUIRE(kb.key(0x1e, vd::KeyAction::kPress).ok());
  f.session->flush();
  BOOST_TEST(f.count_signals(kVectorChannel) == n + 1);  // make + break, one commit
  auto down = f.ring_guest->receive();
  auto up = f.ring_guest->receive();
  BOOST_REQUIRE((down && up));
  BOOST_TEST(payload_of<kbd::Keystroke>(*down).make_code == 0x1e);
  BOOST_TEST(payload_of<kbd::Keystroke>(*up).info == kbd::kInfoBreak);
  (void)f.ring_guest->close_receive();

  // A guest that is draining masks interrupts: no signal.
  f.ring_guest->mask_interrupts();
  n = f.count_signals(kVectorChannel);
  BOOST_REQUIRE(kb.key(0x30, vd::KeyAction::kDown).ok());
  f.session->flush();
  BOOST_TEST(f.count_signals(kVectorChannel) == n);
  BOOST_TEST(f.ring_guest->unmask_interrupts());  // data is there: the guest reads again
}

BOOST_AUTO_TEST_CASE(corrupt_ring_breaks_only_that_channel_and_the_session_goes_on) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  // A write index that is not 8-byte aligned: impossible for a real writer.
  f.ring_guest->g2h_header().write_index = 3;
  BOOST_REQUIRE(f.guest->host_events.set(1));
  f.session->on_guest_signal(kVectorChannel);
  f.session->poll();
  BOOST_TEST(f.session->channel_broken(1));
  BOOST_TEST(f.session->describe_channel(1).starts_with("channel=open ring=broken g2h=[w=0x3 "));
  BOOST_TEST(kb.state() == vd::KeyboardState::kOpen);  // nothing reached the model
  // Sends fail cleanly; the control path still works: rescind goes out.
  BOOST_REQUIRE(f.session->rescind(1).ok());
  f.guest->receive();
  const auto r = f.guest->take<w::RescindOfferMsg>(w::ChannelMessageType::kRescindChannelOffer);
  BOOST_TEST(r.child_relid == 1u);
}

BOOST_AUTO_TEST_CASE(rescind_close_release_then_reoffer) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  negotiate(f);
  BOOST_REQUIRE(f.session->rescind(1).ok());
  f.guest->receive();
  f.guest->take<w::RescindOfferMsg>(w::ChannelMessageType::kRescindChannelOffer);
  BOOST_TEST(!f.session->reoffer(1).ok());  // not released yet

  w::CloseChannelMsg close{};
  close.header.msgtype = w::ChannelMessageType::kCloseChannel;
  close.child_relid = 1;
  f.guest->post(close);
  f.control_round();
  BOOST_TEST(kb.state() == vd::KeyboardState::kClosed);  // the model saw the close
  BOOST_TEST(f.session->describe_channel(1) == "channel=revoked ring=closed");
  BOOST_TEST(!kb.key(0x1e, vd::KeyAction::kPress).ok());

  w::RelidReleasedMsg rel{};
  rel.header.msgtype = w::ChannelMessageType::kRelidReleased;
  rel.child_relid = 1;
  f.guest->post(rel);
  f.control_round();
  BOOST_TEST(f.session->stats().relids_released == 1u);
  BOOST_TEST(f.session->describe_channel(1) == "channel=released ring=closed");

  BOOST_REQUIRE(f.session->reoffer(1).ok());
  f.guest->receive();
  const auto offer = f.guest->take<w::OfferChannelMsg>(w::ChannelMessageType::kOfferChannel);
  BOOST_TEST(offer.child_relid == 1u);
  BOOST_TEST(offer.offer.if_type.to_string() == vd::Keyboard::default_interface().to_string());
}

BOOST_AUTO_TEST_CASE(full_host_to_guest_mailbox_backlogs_in_order_and_retries_on_vector_0) {
  vd::Keyboard kb;
  SessionFixture f({&kb});
  // 64 refused INITIATE_CONTACTs (unknown version) fill the host-to-guest
  // mailbox with VERSION_RESPONSEs the guest does not read yet.
  auto initiate = [&](std::uint32_t version) {
    w::InitiateContactMsg ic{};
    ic.header.msgtype = w::ChannelMessageType::kInitiateContact;
    ic.vmbus_version_requested = version;
    f.guest->post(ic);
  };
  for (int i = 0; i < 64; ++i) initiate(w::make_version(9, 9));
  f.session->on_guest_signal(kVectorControl);
  f.session->poll();
  BOOST_TEST(f.session->backlog() == 0u);
  // Ten more: the accepted one comes last, so order is visible.
  for (int i = 0; i < 9; ++i) initiate(w::make_version(9, 9));
  initiate(w::kVersionWin10V5_2);
  f.session->on_guest_signal(kVectorControl);
  f.session->poll();
  BOOST_TEST(f.session->backlog() == 10u);
  BOOST_TEST(f.session->stats().messages_backlogged == 10u);

  // The guest drains; the host had set producer_waiting, so the guest rings vector 0.
  BOOST_TEST(f.guest->receive());
  BOOST_TEST(f.guest->inbox.size() == 64u);
  f.guest->inbox.clear();
  f.control_round();
  BOOST_TEST(f.session->backlog() == 0u);
  BOOST_REQUIRE_EQUAL(f.guest->inbox.size(), 10u);
  for (int i = 0; i < 9; ++i) {
    BOOST_TEST(f.guest->take<w::VersionResponseMsg>(w::ChannelMessageType::kVersionResponse)
                   .version_supported == 0);
  }
  BOOST_TEST(f.guest->take<w::VersionResponseMsg>(w::ChannelMessageType::kVersionResponse)
                 .version_supported == 1);
}

BOOST_AUTO_TEST_CASE(fail_open_fault_refuses_the_open_and_the_model_never_opens) {
  vd::Keyboard kb;
  std::map<std::uint32_t, vscsim::server::ChannelFaults> faults;
  faults[1].fail_next_open = vscsim::server::kStatusUnsuccessful;
  SessionFixture f({&kb}, faults);
  f.connect();
  f.guest->inbox.clear();
  BOOST_TEST(f.open(1) == vscsim::server::kStatusUnsuccessful);
  BOOST_TEST(kb.state() == vd::KeyboardState::kClosed);
  BOOST_TEST(f.session->describe_channel(1) == "channel=offered ring=closed");
}

BOOST_AUTO_TEST_CASE(drain_is_bounded_per_pass_and_resumes_without_a_signal) {
  vd::Keyboard kb;
  vh::SessionConfig config;
  SessionFixture f({&kb});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  // 70 LED messages (ignored by the model) in one go: more than one pass's 64.
  const std::uint32_t led[2] = {kbd::kLedIndicators, 0};
  bool signal = false;
  for (int i = 0; i < 70; ++i) {
    auto r = f.ring_guest->send(w::PacketType::kDataInband, 0, 0, bytes_of(led));
    BOOST_REQUIRE(r.ok());
    signal = signal || *r;
  }
  BOOST_REQUIRE(signal);
  BOOST_REQUIRE(f.guest->host_events.set(1));
  f.session->on_guest_signal(kVectorChannel);
  f.session->poll();
  BOOST_TEST(f.session->stats().packets_read == 64u);
  BOOST_TEST(f.session->busy());
  f.session->poll();  // no new signal
  BOOST_TEST(f.session->stats().packets_read == 70u);
  BOOST_TEST(!f.session->busy());
  BOOST_TEST(kb.bad_packets() == 0u);
}

namespace {

// A model that answers each guest packet with `burst` in-band packets and
// keeps what does not fit for resume(). `on_full` runs once, at the first
// send refused for lack of room: a test plays the guest there, reading
// while the host is in the middle of its pass (as another CPU could).
struct Burst final : vd::Device {
  std::string_view kind() const override { return "burst"; }
  w::Guid interface_type() const override { return *w::Guid::parse("11111111-2222-3333-4444-555555555555"); }
  w::Guid instance() const override { return *w::Guid::parse("66666666-7777-8888-9999-aaaaaaaaaaaa"); }
  void open(vd::ChannelPort& p) override { port = &p; }
  void packet(const vscsim::ring::PacketView&) override {
    queued += burst;
    flush();
  }
  void close() override { port = nullptr; }
  std::string describe() const override { return "kind=burst"; }
  void resume() override {
    ++resumes;
    flush();
  }
  void flush() {
    const std::array<std::byte, 64> payload{};
    while (queued > 0 && port != nullptr) {
      if (port->send(w::PacketType::kDataInband, 0, 0, payload) != vd::SendStatus::kOk) {
        if (auto hook = std::exchange(on_full, nullptr)) hook();
        return;
      }
      --queued;
      ++sent;
    }
  }
  vd::ChannelPort* port = nullptr;
  std::uint32_t burst = 0;
  std::uint32_t queued = 0;
  std::uint32_t sent = 0;
  std::uint32_t resumes = 0;
  std::function<void()> on_full;
};

}  // namespace

// The guest reads the host-to-guest ring while the host, mid-pass, has
// written packets it has not published yet and has just asked for room.
// Judged against what it sees (without those packets) the guest had room
// all along, so it does not signal; the host must notice the room itself
// after publishing, or its held-back packets wait for a signal that never
// comes.
BOOST_AUTO_TEST_CASE(room_made_while_the_host_is_mid_pass_is_found_without_a_signal) {
  Burst model;
  SessionFixture f({&model});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  const std::uint32_t one = 1;
  model.burst = 40;  // 40 packets of 88 bytes: published, unread
  f.send_inband(1, bytes_of(one));
  BOOST_REQUIRE_EQUAL(model.sent, 40u);

  bool guest_signals = true;
  int read = 0;
  model.on_full = [&] {
    while (f.ring_guest->receive()) ++read;
    guest_signals = f.ring_guest->close_receive();
  };
  model.burst = 60;  // 53 more fit beside the 40 unread: the ring fills mid-pass
  f.send_inband(1, bytes_of(one));
  BOOST_TEST(read == 40);
  BOOST_TEST(!guest_signals);
  BOOST_REQUIRE(model.queued > 0u);
  BOOST_TEST(f.session->busy());  // the session found the room itself
  f.session->poll();               // no guest signal
  BOOST_TEST(model.resumes >= 1u);
  BOOST_TEST(model.queued == 0u);
  BOOST_TEST(model.sent == 100u);
}

namespace {

// A model that calls `on_packet` for every guest packet (a test reads the
// ring from the guest's side there, while the host is mid-pass).
struct Watcher final : vd::Device {
  std::string_view kind() const override { return "watcher"; }
  w::Guid interface_type() const override { return *w::Guid::parse("11111111-2222-3333-4444-555555555556"); }
  w::Guid instance() const override { return *w::Guid::parse("66666666-7777-8888-9999-aaaaaaaaaaab"); }
  void open(vd::ChannelPort&) override {}
  void packet(const vscsim::ring::PacketView&) override {
    if (on_packet) on_packet();
  }
  void close() override {}
  std::string describe() const override { return "kind=watcher"; }
  std::function<void()> on_packet;
};

}  // namespace

// Large packets: the host hands ring space back to the guest once an eighth
// of the ring has been read, within the pass, so a guest that filled the
// ring can go on writing while the host works through what it read.
BOOST_AUTO_TEST_CASE(space_goes_back_to_the_guest_within_a_pass_after_an_eighth_of_the_ring) {
  Watcher watcher;
  SessionFixture f({&watcher});
  f.connect();
  f.guest->inbox.clear();
  BOOST_REQUIRE(f.open(1) == 0u);
  // Six packets of 512 payload bytes (536 in the ring each): 3216 of the
  // 8 KiB ring; an eighth (1 KiB) is read after the second.
  const std::array<std::byte, 512> payload{};
  for (int i = 0; i < 6; ++i) BOOST_REQUIRE(f.ring_guest->send(w::PacketType::kDataInband, 0, 0, payload).ok());
  const std::uint32_t free_before = f.ring_guest->g2h_free_bytes();
  std::vector<std::uint32_t> free_seen;
  watcher.on_packet = [&] { free_seen.push_back(f.ring_guest->g2h_free_bytes()); };
  BOOST_REQUIRE(f.guest->host_events.set(1));
  f.session->on_guest_signal(kVectorChannel);
  f.session->poll();
  BOOST_REQUIRE(free_seen.size() == 6u);
  BOOST_TEST(free_seen[0] == free_before);  // nothing given back before a packet is done
  BOOST_TEST(free_seen[2] == free_before + 2 * 536);  // after the second: 1072 bytes back
  BOOST_TEST(free_seen[5] > free_seen[2]);
  BOOST_TEST(f.ring_guest->g2h_free_bytes() == free_before + 6 * 536);  // and all of it at the end
}

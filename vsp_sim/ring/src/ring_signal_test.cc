// Who signals whom, and when: the kernel's rules, both directions.
#include "ring_fixture.h"

namespace vscsim::ring {
namespace {

using namespace testing;
using wire::PacketType;

// Fills the guest-to-host ring with 1024-byte packets (1000-byte payloads)
// until it is full; returns how many went in.
int fill_g2h(RingFixture& f) {
  int n = 0;
  while (f.guest->send(PacketType::kDataInband, 0, static_cast<std::uint64_t>(n),
                       make_payload(1000, 1)).ok()) {
    ++n;
  }
  return n;
}

bool commit_read(RingFixture& f) {
  auto c = f.host_rx->commit_read();
  BOOST_REQUIRE(c.ok());
  return *c;
}

bool commit_write(RingFixture& f) {
  auto c = f.host_tx->commit_write();
  BOOST_REQUIRE(c.ok());
  return *c;
}

BOOST_AUTO_TEST_SUITE(ring_signals)

BOOST_AUTO_TEST_CASE(host_writer_signals_guest_when_ring_was_empty) {
  RingFixture f;
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, {}).ok());
  BOOST_TEST(commit_write(f));
}

BOOST_AUTO_TEST_CASE(host_writer_does_not_signal_when_ring_was_not_empty) {
  RingFixture f;
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, {}).ok());
  BOOST_TEST(commit_write(f));
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 2, {}).ok());
  BOOST_TEST(!commit_write(f));  // the guest has not read packet 1
  // The guest reads one of two packets: still not empty before the next write.
  BOOST_REQUIRE(f.guest->receive().has_value());
  f.guest->close_receive();
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 3, {}).ok());
  BOOST_TEST(!commit_write(f));
  // The guest drains everything: the next write is an empty-to-non-empty edge.
  while (f.guest->receive()) {
  }
  f.guest->close_receive();
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 4, {}).ok());
  BOOST_TEST(commit_write(f));
}

BOOST_AUTO_TEST_CASE(host_writer_does_not_signal_when_guest_masked_interrupts) {
  RingFixture f;
  f.guest->mask_interrupts();
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, {}).ok());
  BOOST_TEST(!commit_write(f));
  // Unmasking finds the packet, so the guest keeps reading instead of sleeping.
  BOOST_TEST(f.guest->unmask_interrupts());
  BOOST_TEST(f.guest->receive().has_value());
}

BOOST_AUTO_TEST_CASE(batch_of_host_writes_costs_one_signal) {
  RingFixture f;
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, static_cast<std::uint64_t>(i), {}).ok());
  }
  BOOST_TEST(commit_write(f));
  BOOST_TEST(!commit_write(f));  // nothing new to publish
  int seen = 0;
  while (f.guest->receive()) ++seen;
  BOOST_TEST(seen == 3);
}

BOOST_AUTO_TEST_CASE(guest_signals_host_only_when_ring_was_empty_and_unmasked) {
  RingFixture f;
  BOOST_TEST(f.guest->send(PacketType::kDataInband, 0, 1, {}).value());
  BOOST_TEST(!f.guest->send(PacketType::kDataInband, 0, 2, {}).value());  // not empty
  while (f.host_rx->read().ok()) {
  }
  BOOST_TEST(!commit_read(f));
  // The host masks while it drains: the guest does not signal.
  f.host_rx->begin_drain();
  BOOST_TEST(!f.guest->send(PacketType::kDataInband, 0, 3, {}).value());
  // Leaving the drain loop, the host finds the packet that came without a signal.
  auto more = f.host_rx->end_drain();
  BOOST_REQUIRE(more.ok());
  BOOST_TEST(*more);
  BOOST_TEST(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));
  auto none = f.host_rx->end_drain();
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(!*none);
  BOOST_TEST(f.guest->g2h_header().interrupt_mask == 0u);
}

BOOST_AUTO_TEST_CASE(commit_read_signals_blocked_guest_when_space_crosses_pending_send_sz) {
  RingFixture f;
  BOOST_TEST(fill_g2h(f) == 7);
  auto full = f.guest->send(PacketType::kDataInband, 0, 99, make_payload(1000, 1));
  BOOST_REQUIRE(!full.ok());
  BOOST_TEST(!f.guest->set_pending_send_size(full.error().bytes_needed));  // must wait
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(commit_read(f));  // free went from 1024 (not enough) to 2048
  // Another packet read: free was already enough, no second signal.
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));
}

BOOST_AUTO_TEST_CASE(commit_read_does_not_signal_without_feature_bit) {
  TestGuest::Options no_feature;
  no_feature.g2h_feature_pending_send_sz = false;
  RingFixture f(2, 2, no_feature);
  fill_g2h(f);
  f.guest->set_pending_send_size(1024);
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));
}

BOOST_AUTO_TEST_CASE(commit_read_does_not_signal_when_pending_send_sz_is_zero) {
  RingFixture f;
  fill_g2h(f);
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));
}

BOOST_AUTO_TEST_CASE(commit_read_waits_until_freed_space_exceeds_pending_send_sz) {
  RingFixture f;
  fill_g2h(f);                           // 1024 free
  f.guest->set_pending_send_size(4096);  // wants a large packet
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));  // 2048 free: still not enough
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));  // 4096 free: exactly pending is not enough
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(commit_read(f));  // 5120 free: crossed
}

BOOST_AUTO_TEST_CASE(commit_read_does_not_signal_when_writer_already_had_room) {
  RingFixture f;
  fill_g2h(f);                          // 1024 free
  f.guest->set_pending_send_size(512);  // set although it was not blocked
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_TEST(!commit_read(f));
}

BOOST_AUTO_TEST_CASE(guest_signals_host_writer_waiting_for_space) {
  RingFixture f;
  Full needed{0};
  for (;;) {
    auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(1000, 1));
    if (!w.ok()) {
      needed = std::get<Full>(w.error());
      break;
    }
  }
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  auto room = f.host_tx->request_space(needed.bytes_needed);
  BOOST_REQUIRE(room.ok());
  BOOST_TEST(!*room);
  BOOST_TEST(f.guest->h2g_header().pending_send_sz == needed.bytes_needed);
  BOOST_REQUIRE(f.guest->receive().has_value());
  BOOST_TEST(f.guest->close_receive());  // 2048 > 1024 free now
  f.host_tx->clear_pending_send_size();
  BOOST_TEST(f.guest->h2g_header().pending_send_sz == 0u);
  BOOST_TEST(f.host_tx->write(PacketType::kCompletion, 0, 2, make_payload(1000, 1)).ok());
}

BOOST_AUTO_TEST_CASE(guest_does_not_signal_host_writer_without_feature_bit) {
  TestGuest::Options no_feature;
  no_feature.h2g_feature_pending_send_sz = false;
  RingFixture f(2, 2, no_feature);
  while (f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(1000, 1)).ok()) {
  }
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  BOOST_REQUIRE(f.host_tx->request_space(1024).ok());
  BOOST_REQUIRE(f.guest->receive().has_value());
  BOOST_TEST(!f.guest->close_receive());
}

BOOST_AUTO_TEST_CASE(request_space_reports_room_that_is_already_free) {
  RingFixture f;
  auto room = f.host_tx->request_space(1024);
  BOOST_REQUIRE(room.ok());
  BOOST_TEST(*room);
  auto too_much = f.host_tx->request_space(8192);
  BOOST_REQUIRE(too_much.ok());
  BOOST_TEST(!*too_much);
}

// Why a reader publishes its reads before it unmasks: the guest signals only
// a ring it finds empty by the published read index. Unmasked with reads
// unpublished, a packet written then gets no signal (the first half, which
// the session's drain must never do); published first, it does.
BOOST_AUTO_TEST_CASE(end_drain_after_commit_read_lets_the_next_packet_signal) {
  RingFixture f;
  const auto p = make_payload(64, 3);
  {
    BOOST_REQUIRE(*f.guest->send(PacketType::kDataInband, 0, 1, p));
    f.host_rx->begin_drain();
    BOOST_REQUIRE(f.host_rx->read().ok());
    auto again = f.host_rx->end_drain();  // unpublished read: the hazard
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(!*again);
    auto sent = f.guest->send(PacketType::kDataInband, 0, 2, p);
    BOOST_REQUIRE(sent.ok());
    BOOST_TEST(!*sent);  // the guest sees an unread packet: no signal for this one
    (void)commit_read(f);
    BOOST_REQUIRE(f.host_rx->read().ok());
    (void)commit_read(f);
  }
  f.host_rx->begin_drain();
  BOOST_REQUIRE(*f.guest->send(PacketType::kDataInband, 0, 3, p) == false);  // masked
  BOOST_REQUIRE(f.host_rx->read().ok());
  (void)commit_read(f);
  auto again = f.host_rx->end_drain();
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(!*again);
  auto sent = f.guest->send(PacketType::kDataInband, 0, 4, p);
  BOOST_REQUIRE(sent.ok());
  BOOST_TEST(*sent);  // empty and unmasked: the guest signals
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::ring

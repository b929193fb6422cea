// RingWriter::write_copies: many copies of one packet in one call (the
// simulator's completion flood), laid out exactly as write() lays out one.
#include <cstring>

#include "ring_fixture.h"

namespace vscsim::ring {
namespace {

using namespace testing;
using wire::PacketType;

constexpr std::uint32_t kPacketBytes = 40;  // 16-byte descriptor + 13 bytes padded to 16 + trailer

wire::VmpacketDescriptor descriptor_of(const std::vector<std::byte>& packet) {
  wire::VmpacketDescriptor d;
  std::memcpy(&d, packet.data(), sizeof d);
  return d;
}

std::uint64_t trailer_at(const RingFixture& f, std::uint32_t offset) {
  std::uint64_t t = 0;
  std::memcpy(&t, f.pair->host_to_guest.data + offset, sizeof t);
  return t;
}

// Receives every published packet and checks each is a copy of `payload`
// with the next id; returns how many arrived.
std::uint32_t receive_copies(RingFixture& f, std::uint64_t& next_id, std::span<const std::byte> payload) {
  std::uint32_t n = 0;
  while (auto p = f.guest->receive()) {
    const auto d = descriptor_of(*p);
    BOOST_TEST(d.type == static_cast<std::uint16_t>(PacketType::kCompletion));
    BOOST_TEST(d.offset8 == 2);
    BOOST_TEST(d.len8 == 4);
    BOOST_TEST(d.flags == 3);
    BOOST_TEST(d.trans_id == next_id);
    BOOST_TEST(std::vector<std::byte>(p->begin() + 16, p->begin() + 16 + static_cast<std::ptrdiff_t>(payload.size())) ==
               as_vector(payload));
    BOOST_TEST(static_cast<int>((*p)[16 + payload.size()]) == 0);  // padding is zero
    ++next_id;
    ++n;
  }
  f.guest->close_receive();
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ring_write_copies)

BOOST_AUTO_TEST_CASE(write_copies_gives_each_copy_the_next_id_and_its_own_start_offset_trailer) {
  RingFixture f;
  const auto payload = make_payload(13, 9);
  auto n = f.host_tx->write_copies(PacketType::kCompletion, 3, 100, 5, payload);
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == 5u);
  BOOST_TEST(!f.guest->receive().has_value());  // nothing visible before the commit
  auto signal = f.host_tx->commit_write();
  BOOST_REQUIRE(signal.ok());
  BOOST_TEST(*signal);  // the ring went from empty to non-empty
  for (std::uint32_t i = 0; i < 5; ++i) {
    BOOST_TEST(trailer_at(f, i * kPacketBytes + 32) == std::uint64_t{i * kPacketBytes} << 32);
  }
  std::uint64_t next = 100;
  BOOST_TEST(receive_copies(f, next, payload) == 5u);
}

BOOST_AUTO_TEST_CASE(write_copies_matches_write_byte_for_byte) {
  RingFixture a, b;
  const auto payload = make_payload(13, 4);
  BOOST_REQUIRE(a.host_tx->write(PacketType::kCompletion, 3, 7, payload).ok());
  BOOST_REQUIRE(a.host_tx->write(PacketType::kCompletion, 3, 8, payload).ok());
  auto n = b.host_tx->write_copies(PacketType::kCompletion, 3, 7, 2, payload);
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == 2u);
  BOOST_TEST(std::memcmp(a.pair->host_to_guest.data, b.pair->host_to_guest.data, 2 * kPacketBytes) == 0);
}

BOOST_AUTO_TEST_CASE(write_copies_fills_the_ring_but_leaves_it_strictly_not_full) {
  RingFixture f;  // 8192-byte data area
  // A 32-byte packet first: 8160 bytes stay free, exactly 204 copies' worth.
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(8, 1)).ok());
  const auto payload = make_payload(13, 1);
  auto n = f.host_tx->write_copies(PacketType::kCompletion, 3, 2, 100000, payload);
  BOOST_REQUIRE(n.ok());
  // 204 would leave no byte free, and a full ring would look empty.
  BOOST_TEST(*n == 203u);
  auto more = f.host_tx->write_copies(PacketType::kCompletion, 3, 205, 1, payload);
  BOOST_REQUIRE(!more.ok());
  BOOST_REQUIRE(std::holds_alternative<Full>(more.error()));
  BOOST_TEST(std::get<Full>(more.error()).bytes_needed == kPacketBytes);
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  BOOST_TEST(f.guest->h2g_header().write_index == 32u + 203 * kPacketBytes);
  BOOST_REQUIRE(f.guest->receive().has_value());  // the 32-byte one
  std::uint64_t next = 2;
  BOOST_TEST(receive_copies(f, next, payload) == 203u);
  // max_count 0 writes nothing and is not an error.
  auto none = f.host_tx->write_copies(PacketType::kCompletion, 3, 1, 0, payload);
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(*none == 0u);
}

BOOST_AUTO_TEST_CASE(write_copies_splits_a_copy_across_the_end_of_the_ring) {
  RingFixture f;
  const std::uint32_t size = f.pair->host_to_guest.data_size;
  // One packet of 8168 bytes with trailer leaves the write index 24 bytes
  // before the end: the first 40-byte copy then straddles it.
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(size - 24 - 24, 1)).ok());
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  BOOST_REQUIRE(f.guest->receive().has_value());
  f.guest->close_receive();
  BOOST_REQUIRE(f.guest->h2g_header().read_index == size - 24);

  const auto payload = make_payload(13, 2);
  std::uint64_t next = 50;
  std::uint32_t received = 0;
  // Twice round the ring, with the guest reading between batches.
  for (int batch = 0; batch < 4; ++batch) {
    auto n = f.host_tx->write_copies(PacketType::kCompletion, 3, next, 150, payload);
    BOOST_REQUIRE(n.ok());
    BOOST_TEST(*n == 150u);
    BOOST_REQUIRE(f.host_tx->commit_write().ok());
    // The straddling copy's trailer landed at the start of the data area.
    if (batch == 0) BOOST_TEST(trailer_at(f, 8) == std::uint64_t{size - 24} << 32);
    received += receive_copies(f, next, payload);
  }
  BOOST_TEST(received == 600u);
  BOOST_TEST(next == 650u);
}

BOOST_AUTO_TEST_CASE(write_copies_refuses_a_packet_that_can_never_fit) {
  RingFixture f;
  auto n = f.host_tx->write_copies(PacketType::kCompletion, 0, 1, 4, make_payload(8192, 1));
  BOOST_REQUIRE(!n.ok());
  BOOST_REQUIRE(std::holds_alternative<Full>(n.error()));
  BOOST_TEST(std::get<Full>(n.error()).bytes_needed >= f.pair->host_to_guest.data_size);
}

BOOST_AUTO_TEST_CASE(write_copies_refuses_a_read_index_the_guest_corrupted) {
  RingFixture f;
  f.guest->h2g_header().read_index = 12;
  auto n = f.host_tx->write_copies(PacketType::kCompletion, 0, 1, 4, make_payload(13, 1));
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(corrupt_reason(n.error()).find("read index 0xc") != std::string::npos);
  BOOST_TEST(f.host_tx->broken());
  BOOST_TEST(f.guest->h2g_header().write_index == 0u);
}

BOOST_AUTO_TEST_CASE(unread_bytes_counts_published_bytes_the_guest_has_not_read) {
  RingFixture f;
  const auto payload = make_payload(13, 1);
  BOOST_REQUIRE(f.host_tx->write_copies(PacketType::kCompletion, 0, 1, 3, payload).ok());
  auto unread = f.host_tx->unread_bytes();
  BOOST_REQUIRE(unread.ok());
  BOOST_TEST(*unread == 0u);  // written, not published
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  BOOST_TEST(*f.host_tx->unread_bytes() == 3 * kPacketBytes);
  BOOST_REQUIRE(f.guest->receive().has_value());
  f.guest->close_receive();
  BOOST_TEST(*f.host_tx->unread_bytes() == 2 * kPacketBytes);
  while (f.guest->receive()) {
  }
  f.guest->close_receive();
  BOOST_TEST(*f.host_tx->unread_bytes() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace vscsim::ring

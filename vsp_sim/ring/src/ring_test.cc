#define BOOST_TEST_MODULE ring_test
#include "ring_fixture.h"

#include "vscsim/wire/parse.h"

namespace vscsim::ring {
namespace {

using namespace testing;
using wire::PacketType;

BOOST_AUTO_TEST_SUITE(ring_format)

BOOST_AUTO_TEST_CASE(ring_carries_guest_packet_to_host_intact) {
  RingFixture f;
  const auto payload = make_payload(13, 1);
  auto s = f.guest->send(PacketType::kDataInband, wire::kFlagCompletionRequested, 7, payload);
  BOOST_REQUIRE(s.ok());
  auto p = f.host_rx->read();
  BOOST_REQUIRE(p.ok());
  const wire::VmpacketDescriptor d = p->descriptor;
  BOOST_TEST(d.type == static_cast<std::uint16_t>(PacketType::kDataInband));
  BOOST_TEST(d.offset8 == 2);
  BOOST_TEST(d.len8 == 4);  // 16-byte descriptor + 13 bytes padded to 16
  BOOST_TEST(d.flags == wire::kFlagCompletionRequested);
  BOOST_TEST(d.trans_id == 7u);
  BOOST_REQUIRE(p->payload().size() == 16u);
  BOOST_TEST(as_vector(p->payload().first(13)) == payload);
  BOOST_TEST(static_cast<int>(p->payload()[13]) == 0);
  BOOST_TEST(std::holds_alternative<Empty>(f.host_rx->read().error()));
  BOOST_TEST(f.host_rx->commit_read().ok());
  BOOST_TEST(f.guest->g2h_header().read_index == 40u);  // 32-byte packet + trailer
}

BOOST_AUTO_TEST_CASE(ring_carries_host_packet_to_guest_with_start_offset_trailer) {
  RingFixture f;
  const auto a = make_payload(100, 2);
  const auto b = make_payload(8, 3);
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 11, a).ok());
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 12, b).ok());
  // Nothing is visible before the commit.
  BOOST_TEST(!f.guest->receive().has_value());
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  auto p1 = f.guest->receive();
  auto p2 = f.guest->receive();
  BOOST_REQUIRE(p1.has_value());
  BOOST_REQUIRE(p2.has_value());
  wire::VmpacketDescriptor d1, d2;
  std::memcpy(&d1, p1->data(), 16);
  std::memcpy(&d2, p2->data(), 16);
  BOOST_TEST(d1.type == static_cast<std::uint16_t>(PacketType::kCompletion));
  BOOST_TEST(d1.trans_id == 11u);
  BOOST_TEST(d2.trans_id == 12u);
  BOOST_TEST(std::vector<std::byte>(p1->begin() + 16, p1->begin() + 116) == a);
  // Trailers: start offset << 32. The second packet starts at 16 + 104 + 8 = 128.
  std::uint64_t t1 = 1, t2 = 0;
  std::memcpy(&t1, f.pair->host_to_guest.data + 120, 8);
  std::memcpy(&t2, f.pair->host_to_guest.data + 128 + 24, 8);
  BOOST_TEST(t1 == 0u);
  BOOST_TEST(t2 == std::uint64_t{128} << 32);
}

BOOST_AUTO_TEST_CASE(ring_delivers_packets_in_order_across_wraparound) {
  RingFixture f;
  const std::uint32_t size = f.pair->guest_to_host.data_size;
  std::uint64_t next_to_read = 0;
  int wraps = 0, straddles = 0;
  std::uint32_t last_write = 0;
  auto drain = [&] {
    for (;;) {
      auto p = f.host_rx->read();
      if (!p.ok()) {
        BOOST_REQUIRE(std::holds_alternative<Empty>(p.error()));
        break;
      }
      const std::uint64_t id = p->descriptor.trans_id;
      BOOST_REQUIRE(id == next_to_read);
      const std::size_t n = (id * 37) % 900;
      BOOST_REQUIRE(as_vector(p->payload().first(n)) == make_payload(n, static_cast<std::uint32_t>(id)));
      ++next_to_read;
    }
    BOOST_REQUIRE(f.host_rx->commit_read().ok());
  };
  for (std::uint64_t id = 0; id < 600; ++id) {
    const std::size_t n = (id * 37) % 900;
    const auto payload = make_payload(n, static_cast<std::uint32_t>(id));
    const std::uint32_t start = f.guest->g2h_header().write_index;
    auto s = f.guest->send(PacketType::kDataInband, 0, id, payload);
    if (!s.ok()) {
      drain();
      s = f.guest->send(PacketType::kDataInband, 0, id, payload);
      BOOST_REQUIRE(s.ok());
    }
    const std::uint32_t w = f.guest->g2h_header().write_index;
    if (w < last_write) ++wraps;
    if (start + 16 + (n + 7) / 8 * 8 > size) ++straddles;
    last_write = w;
  }
  drain();
  BOOST_TEST(next_to_read == 600u);
  BOOST_TEST(wraps >= 10);
  BOOST_TEST(straddles >= 1);  // some packet was split across the end of the ring
}

BOOST_AUTO_TEST_CASE(host_to_guest_ring_wraps_around_in_order) {
  RingFixture f;
  std::uint64_t next_to_read = 0;
  auto drain = [&] {
    while (auto p = f.guest->receive()) {
      wire::VmpacketDescriptor d;
      std::memcpy(&d, p->data(), 16);
      BOOST_REQUIRE(d.trans_id == next_to_read);
      const std::size_t n = (d.trans_id * 53) % 1500;
      BOOST_REQUIRE(std::vector<std::byte>(p->begin() + 16, p->begin() + 16 + static_cast<std::ptrdiff_t>(n)) ==
                    make_payload(n, static_cast<std::uint32_t>(d.trans_id)));
      ++next_to_read;
    }
    f.guest->close_receive();
  };
  for (std::uint64_t id = 0; id < 400; ++id) {
    const std::size_t n = (id * 53) % 1500;
    const auto payload = make_payload(n, static_cast<std::uint32_t>(id));
    auto w = f.host_tx->write(PacketType::kCompletion, 0, id, payload);
    if (!w.ok()) {
      BOOST_REQUIRE(std::holds_alternative<Full>(w.error()));
      BOOST_REQUIRE(f.host_tx->commit_write().ok());
      drain();
      BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, id, payload).ok());
    }
  }
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  drain();
  BOOST_TEST(next_to_read == 400u);
}

BOOST_AUTO_TEST_CASE(host_writer_needs_strictly_more_free_space_than_packet) {
  RingFixture f;  // 8192-byte data area
  // 1000-byte payload: 16 + 1000 + 8 = 1024 bytes; 7168 free afterwards.
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(1000, 1)).ok());
  // A packet of exactly the free space would make a full ring look empty.
  auto exact = f.host_tx->write(PacketType::kCompletion, 0, 2, make_payload(7144, 2));
  BOOST_REQUIRE(!exact.ok());
  BOOST_REQUIRE(std::holds_alternative<Full>(exact.error()));
  BOOST_TEST(std::get<Full>(exact.error()).bytes_needed == 7168u);
  // Eight bytes less fits, leaving 8 free bytes: the ring is then full.
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 3, make_payload(7136, 3)).ok());
  auto none = f.host_tx->write(PacketType::kCompletion, 0, 4, {});
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(std::get<Full>(none.error()).bytes_needed == 24u);
}

BOOST_AUTO_TEST_CASE(test_guest_needs_strictly_more_free_space_than_packet) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 1, make_payload(1000, 1)).ok());
  auto exact = f.guest->send(PacketType::kDataInband, 0, 2, make_payload(7144, 2));
  BOOST_REQUIRE(!exact.ok());
  BOOST_TEST(exact.error().bytes_needed == 7168u);
  BOOST_TEST(f.guest->send(PacketType::kDataInband, 0, 3, make_payload(7136, 3)).ok());
}

BOOST_AUTO_TEST_CASE(reader_reports_empty_on_fresh_and_drained_ring) {
  RingFixture f;
  auto e = f.host_rx->read();
  BOOST_REQUIRE(!e.ok());
  BOOST_TEST(std::holds_alternative<Empty>(e.error()));
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 1, {}).ok());
  BOOST_TEST(f.host_rx->read().ok());
  BOOST_TEST(std::holds_alternative<Empty>(f.host_rx->read().error()));
  BOOST_TEST(!f.host_rx->broken());
}

BOOST_AUTO_TEST_CASE(full_ring_accepts_writes_again_after_guest_reads) {
  RingFixture f;
  int written = 0;
  for (;;) {
    auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(1000, 1));
    if (!w.ok()) {
      BOOST_REQUIRE(std::holds_alternative<Full>(w.error()));
      break;
    }
    ++written;
  }
  BOOST_TEST(written == 7);  // 7 * 1024 < 8192; an 8th would leave 0 free
  BOOST_REQUIRE(f.host_tx->commit_write().ok());
  BOOST_REQUIRE(f.guest->receive().has_value());
  f.guest->close_receive();
  BOOST_TEST(f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(1000, 1)).ok());
}

BOOST_AUTO_TEST_CASE(reader_copy_is_private_when_guest_rewrites_the_ring) {
  RingFixture f;
  const auto payload = make_payload(64, 9);
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 5, payload).ok());
  auto p = f.host_rx->read();
  BOOST_REQUIRE(p.ok());
  // The guest scribbles over the packet after the host copied it.
  std::memset(f.pair->guest_to_host.data, 0xff, 96);
  BOOST_TEST(as_vector(p->payload()) == payload);
  BOOST_TEST(p->descriptor.trans_id == 5u);
}

BOOST_AUTO_TEST_CASE(gpa_direct_ranges_crossing_pages_are_read_from_guest_memory) {
  RingFixture f;
  // Range 0: 5000 bytes from offset 4000 of a low page, through two pages above 4 GiB.
  const std::vector<std::uint64_t> pfns0{kSpareLow.value(), kSpareHighA.value(),
                                         kSpareHighB.value()};
  const std::vector<std::uint64_t> pfns1{29};
  const auto data0 = make_payload(5000, 21);
  const auto data1 = make_payload(100, 22);
  std::vector<Pfn> pages0{kSpareLow, kSpareHighA, kSpareHighB};
  BOOST_REQUIRE(f.mem->write_pages(pages0, 4000, data0).ok());
  std::vector<Pfn> pages1{Pfn(29)};
  BOOST_REQUIRE(f.mem->write_pages(pages1, 50, data1).ok());

  const std::vector<wire::ParsedGpaRange> ranges{{5000, 4000, pfns0}, {100, 50, pfns1}};
  const auto request = make_payload(40, 23);
  BOOST_REQUIRE(f.guest->send_gpa_direct(77, ranges, request).ok());

  auto p = f.host_rx->read();
  BOOST_REQUIRE(p.ok());
  auto g = wire::parse_gpa_direct(p->bytes);
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g->descriptor.trans_id == 77u);
  BOOST_REQUIRE(g->ranges.size() == 2u);
  BOOST_TEST(g->ranges[0].pfns == pfns0);
  BOOST_TEST(as_vector(g->payload.first(40)) == request);

  std::vector<std::byte> got0(5000), got1(100);
  const auto& r0 = g->ranges[0];
  const auto& r1 = g->ranges[1];
  BOOST_REQUIRE(read_gpa_range(*f.mem, r0.pfns, r0.byte_offset, r0.byte_count, 0, got0).ok());
  BOOST_REQUIRE(read_gpa_range(*f.mem, r1.pfns, r1.byte_offset, r1.byte_count, 0, got1).ok());
  BOOST_TEST(got0 == data0);
  BOOST_TEST(got1 == data1);
  // A window in the middle of the range, crossing the second page boundary.
  std::vector<std::byte> mid(200);
  BOOST_REQUIRE(read_gpa_range(*f.mem, r0.pfns, r0.byte_offset, r0.byte_count, 4100, mid).ok());
  BOOST_TEST(mid == std::vector<std::byte>(data0.begin() + 4100, data0.begin() + 4300));
  // Past the range's byte count: refused.
  BOOST_TEST(!read_gpa_range(*f.mem, r0.pfns, r0.byte_offset, r0.byte_count, 4900, mid).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_page_outside_guest_ram_is_refused) {
  RingFixture f;
  const std::uint64_t in_hole = 1000;  // GPA 0x3e8000: past low RAM, below 4 GiB
  const std::vector<wire::ParsedGpaRange> ranges{{8192, 0, {kSpareLow.value(), in_hole}}};
  BOOST_REQUIRE(f.guest->send_gpa_direct(1, ranges, {}).ok());
  auto p = f.host_rx->read();
  BOOST_REQUIRE(p.ok());
  auto g = wire::parse_gpa_direct(p->bytes);
  BOOST_REQUIRE(g.ok());
  std::vector<std::byte> out(8192, std::byte{0xcc});
  auto r = read_gpa_range(*f.mem, g->ranges[0].pfns, 0, 8192, 0, out);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(memory::MemoryError::Kind::kNotRam));
  BOOST_TEST(r.error().completed == kPageSize);
}

BOOST_AUTO_TEST_CASE(gpa_direct_with_zero_or_too_many_ranges_is_refused) {
  RingFixture f(4, 2);
  BOOST_REQUIRE(f.guest->send_gpa_direct(1, {}, {}).ok());
  std::vector<wire::ParsedGpaRange> many(33, wire::ParsedGpaRange{8, 0, {kSpareLow.value()}});
  BOOST_REQUIRE(f.guest->send_gpa_direct(2, many, {}).ok());
  auto p0 = f.host_rx->read();
  BOOST_REQUIRE(p0.ok());
  BOOST_TEST(!wire::parse_gpa_direct(p0->bytes).ok());
  auto p1 = f.host_rx->read();
  BOOST_REQUIRE(p1.ok());
  BOOST_TEST(!wire::parse_gpa_direct(p1->bytes).ok());
  BOOST_TEST(wire::parse_gpa_direct(p1->bytes, {.max_ranges = 33, .max_total_pages = 64}).ok());
}

BOOST_AUTO_TEST_CASE(map_ring_pair_rejects_bad_split_and_pages_outside_ram) {
  RingFixture f;
  BOOST_TEST(!map_ring_pair(*f.mem, f.gpadl, 1).ok());
  BOOST_TEST(!map_ring_pair(*f.mem, f.gpadl, static_cast<std::uint32_t>(f.gpadl.size() - 1)).ok());
  auto bad = f.gpadl;
  bad[3] = Pfn(2000);  // in the hole
  BOOST_TEST(!map_ring_pair(*f.mem, bad, 3).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::ring

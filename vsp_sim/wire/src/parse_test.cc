#include "vscsim/wire/parse.h"

#include <boost/test/unit_test.hpp>
#include <vector>

#include "vscsim/wire/ring_header.h"

namespace vscsim::wire {
namespace {

// Builds a GPA-direct packet the way vmbus_sendpacket_mpb_desc lays it out.
struct GpaDirectBuilder {
  std::vector<std::byte> bytes;

  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }

  static std::vector<std::byte> build(std::uint32_t range_count,
                                      const std::vector<ParsedGpaRange>& ranges,
                                      std::size_t payload_bytes) {
    GpaDirectBuilder b;
    b.put(GpaDirectHeader{});
    for (const auto& r : ranges) {
      b.put(GpaRange{r.byte_count, r.byte_offset});
      for (auto pfn : r.pfns) b.put(pfn);
    }
    const std::size_t header = b.bytes.size();
    b.bytes.resize(header + (payload_bytes + 7) / 8 * 8, std::byte{0x5a});
    GpaDirectHeader h{};
    h.d.type = static_cast<std::uint16_t>(PacketType::kDataUsingGpaDirect);
    h.d.offset8 = static_cast<std::uint16_t>(header / 8);
    h.d.len8 = static_cast<std::uint16_t>(b.bytes.size() / 8);
    h.d.flags = kFlagCompletionRequested;
    h.d.trans_id = 42;
    h.range_count = range_count;
    std::memcpy(b.bytes.data(), &h, sizeof h);
    return b.bytes;
  }
};

void set_u16(std::vector<std::byte>& b, std::size_t at, std::uint16_t v) {
  std::memcpy(b.data() + at, &v, 2);
}

BOOST_AUTO_TEST_SUITE(parse)

BOOST_AUTO_TEST_CASE(ring_header_and_messages_have_kernel_sizes) {
  // Pinned by static_assert in the headers; this keeps one runtime witness.
  BOOST_TEST(sizeof(RingBufferHeader) == 4096u);
  BOOST_TEST(sizeof(OfferChannelMsg) == 196u);
  BOOST_TEST(kVersionWin10V5 == 0x50000u);
  BOOST_TEST(kRqstError == 0xfffffffffffffffeULL);
}

BOOST_AUTO_TEST_CASE(parse_struct_refuses_short_input) {
  std::vector<std::byte> b(15);
  BOOST_TEST(!parse_struct<VmpacketDescriptor>(b).ok());
  b.resize(16);
  BOOST_TEST(parse_struct<VmpacketDescriptor>(b).ok());
}

BOOST_AUTO_TEST_CASE(channel_message_check_accepts_known_message) {
  OpenResultMsg m{};
  m.header.msgtype = ChannelMessageType::kOpenChannelResult;
  auto t = check_channel_message(std::as_bytes(std::span(&m, 1)));
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(static_cast<int>(*t) == 6);
}

BOOST_AUTO_TEST_CASE(channel_message_check_rejects_short_unknown_and_oversized) {
  OfferChannelMsg m{};
  m.header.msgtype = ChannelMessageType::kOfferChannel;
  auto all = std::as_bytes(std::span(&m, 1));
  BOOST_TEST(!check_channel_message(all.first(sizeof(m) - 1)).ok());
  BOOST_TEST(!check_channel_message(all.first(4)).ok());
  m.header.msgtype = static_cast<ChannelMessageType>(99);
  BOOST_TEST(!check_channel_message(all).ok());
  std::vector<std::byte> big(kMaxMessagePayload + 1);
  BOOST_TEST(!check_channel_message(big).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_parses_ranges_pfns_and_payload) {
  std::vector<ParsedGpaRange> ranges{{5000, 4000, {7, 8, 9}}, {16, 0, {100}}};
  auto bytes = GpaDirectBuilder::build(2, ranges, 20);
  auto p = parse_gpa_direct(bytes);
  BOOST_REQUIRE(p.ok());
  BOOST_TEST(p->descriptor.trans_id == 42u);
  BOOST_REQUIRE(p->ranges.size() == 2u);
  BOOST_TEST(p->ranges[0].byte_offset == 4000u);
  BOOST_TEST(p->ranges[0].byte_count == 5000u);
  BOOST_TEST(p->ranges[0].pfns == (std::vector<std::uint64_t>{7, 8, 9}));
  BOOST_TEST(p->ranges[1].pfns == (std::vector<std::uint64_t>{100}));
  BOOST_TEST(p->payload.size() == 24u);
  BOOST_TEST(static_cast<int>(p->payload[0]) == 0x5a);
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_zero_ranges) {
  auto bytes = GpaDirectBuilder::build(0, {}, 8);
  BOOST_TEST(!parse_gpa_direct(bytes).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_range_count_over_cap) {
  std::vector<ParsedGpaRange> ranges(3, ParsedGpaRange{8, 0, {1}});
  auto bytes = GpaDirectBuilder::build(3, ranges, 8);
  BOOST_TEST(parse_gpa_direct(bytes, {.max_ranges = 3, .max_total_pages = 10}).ok());
  BOOST_TEST(!parse_gpa_direct(bytes, {.max_ranges = 2, .max_total_pages = 10}).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_range_count_larger_than_list) {
  std::vector<ParsedGpaRange> ranges{{8, 0, {1}}};
  auto bytes = GpaDirectBuilder::build(2, ranges, 0);
  BOOST_TEST(!parse_gpa_direct(bytes).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_page_count_over_cap) {
  std::vector<ParsedGpaRange> ranges{{3 * 4096, 0, {1, 2, 3}}};
  auto bytes = GpaDirectBuilder::build(1, ranges, 0);
  BOOST_TEST(parse_gpa_direct(bytes, {.max_ranges = 4, .max_total_pages = 3}).ok());
  BOOST_TEST(!parse_gpa_direct(bytes, {.max_ranges = 4, .max_total_pages = 2}).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_offset_outside_first_page_and_empty_range) {
  auto bad_offset = GpaDirectBuilder::build(1, {{8, 4096, {1, 2}}}, 0);
  BOOST_TEST(!parse_gpa_direct(bad_offset).ok());
  auto empty = GpaDirectBuilder::build(1, {{0, 0, {}}}, 0);
  BOOST_TEST(!parse_gpa_direct(empty).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_pfn_list_running_past_offset8) {
  // The range says 2 pages but offset8 leaves room for only 1 pfn.
  auto bytes = GpaDirectBuilder::build(1, {{4097, 0, {1}}}, 16);
  BOOST_TEST(!parse_gpa_direct(bytes).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_bad_offset8_and_len8) {
  auto bytes = GpaDirectBuilder::build(1, {{8, 0, {1}}}, 8);
  auto small = bytes;
  set_u16(small, 2, 2);  // offset8 = 16 bytes: no room for range_count
  BOOST_TEST(!parse_gpa_direct(small).ok());
  auto past = bytes;
  set_u16(past, 2, static_cast<std::uint16_t>(bytes.size() / 8 + 1));
  BOOST_TEST(!parse_gpa_direct(past).ok());
  auto len = bytes;
  set_u16(len, 4, static_cast<std::uint16_t>(bytes.size() / 8 + 1));
  BOOST_TEST(!parse_gpa_direct(len).ok());
  BOOST_TEST(!parse_gpa_direct(std::span(bytes).first(20)).ok());
}

BOOST_AUTO_TEST_CASE(gpa_direct_rejects_other_packet_types) {
  auto bytes = GpaDirectBuilder::build(1, {{8, 0, {1}}}, 8);
  set_u16(bytes, 0, static_cast<std::uint16_t>(PacketType::kDataInband));
  BOOST_TEST(!parse_gpa_direct(bytes).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::wire

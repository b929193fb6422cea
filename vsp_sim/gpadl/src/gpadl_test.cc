#define BOOST_TEST_MODULE gpadl_test
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <numeric>

#include "vscsim/gpadl/encode.h"
#include "vscsim/gpadl/gpadl.h"
#include "vscsim/wire/channel_messages.h"

namespace vscsim::gpadl {
namespace {

using memory::kPageSize;
using memory::Pfn;

constexpr std::uint64_t kHighBase = memory::kFourGiB >> memory::kPageShift;

// 64 pages below 4 GiB, 64 above.
memory::MemoryLayout layout() {
  return memory::MemoryLayout::split(128 * kPageSize, 64 * kPageSize).value();
}

std::vector<Pfn> pages(std::size_t n, std::uint64_t first = 1) {
  std::vector<Pfn> v;
  for (std::size_t i = 0; i < n; ++i) {
    // Alternate low and high RAM so lookups cross the hole.
    v.push_back(i % 2 == 0 ? Pfn(first + i / 2) : Pfn(kHighBase + first + i / 2));
  }
  return v;
}

// Builds a GPADL message by hand, for fields encode_gpadl would get right.
Message header_msg(std::uint32_t handle, std::uint16_t range_buflen, std::uint16_t rangecount,
                   std::span<const std::uint64_t> slots) {
  wire::GpadlHeaderMsg h{};
  h.header.msgtype = wire::ChannelMessageType::kGpadlHeader;
  h.child_relid = 1;
  h.gpadl = handle;
  h.range_buflen = range_buflen;
  h.rangecount = rangecount;
  Message m(sizeof h + slots.size() * 8);
  std::memcpy(m.data(), &h, sizeof h);
  if (!slots.empty()) std::memcpy(m.data() + sizeof h, slots.data(), slots.size() * 8);
  return m;
}

std::uint64_t range_slot(std::uint32_t byte_count, std::uint32_t byte_offset) {
  return std::uint64_t{byte_offset} << 32 | byte_count;
}

Result<Gpadl, Error> assemble(const std::vector<Message>& msgs, const Limits& limits = {}) {
  auto a = Assembler::begin(msgs.at(0), layout(), limits);
  if (!a.ok()) return Err(std::move(a.error()));
  for (std::size_t i = 1; i < msgs.size(); ++i) {
    auto r = a->add_body(msgs[i], layout());
    if (!r.ok()) return Err(std::move(r.error()));
  }
  BOOST_REQUIRE(a->complete());
  return a->take();
}

ErrorKind kind_of(const std::vector<Message>& msgs, const Limits& limits = {}) {
  auto g = assemble(msgs, limits);
  BOOST_REQUIRE(!g.ok());
  return g.error().kind;
}

BOOST_AUTO_TEST_SUITE(gpadl_assembly)

BOOST_AUTO_TEST_CASE(single_message_gpadl_is_complete_after_the_header) {
  const auto p = pages(26);
  const auto msgs = encode_gpadl_pages(3, 0xe1e10, p);
  BOOST_REQUIRE_EQUAL(msgs.size(), 1u);
  BOOST_TEST(msgs[0].size() == 20u + 8u + 26u * 8u);  // 236 bytes, as Linux sends it
  auto g = assemble(msgs);
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g->handle() == 0xe1e10u);
  BOOST_TEST(g->child_relid() == 3u);
  BOOST_TEST(g->is_whole_pages());
  BOOST_TEST(std::equal(g->pfns().begin(), g->pfns().end(), p.begin(), p.end()));
}

BOOST_AUTO_TEST_CASE(header_and_several_bodies_assemble_pages_in_order) {
  // 128 KiB + 128 KiB rings = 64 pages: header 26, bodies 28 + 10.
  const auto p = pages(64);
  const auto msgs = encode_gpadl_pages(1, 7, p);
  BOOST_REQUIRE_EQUAL(msgs.size(), 3u);
  auto a = Assembler::begin(msgs[0], layout());
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->announced_pages() == 64u);
  BOOST_TEST(!a->complete());
  BOOST_REQUIRE(a->add_body(msgs[1], layout()).ok());
  BOOST_TEST(!a->complete());
  BOOST_REQUIRE(a->add_body(msgs[2], layout()).ok());
  BOOST_REQUIRE(a->complete());
  const Gpadl g = a->take();
  BOOST_TEST(g.page_count() == 64u);
  BOOST_TEST(std::equal(g.pfns().begin(), g.pfns().end(), p.begin(), p.end()));
}

BOOST_AUTO_TEST_CASE(multi_range_gpadl_keeps_each_range_offset_and_pages) {
  std::vector<EncodeRange> ranges{{100, 5000, pages(2, 1)}, {0, 1, pages(1, 10)},
                                  {4095, 2, pages(2, 20)}};
  auto g = assemble(encode_gpadl(1, 9, ranges));
  BOOST_REQUIRE(g.ok());
  BOOST_REQUIRE_EQUAL(g->ranges().size(), 3u);
  BOOST_TEST(g->ranges()[0].byte_offset == 100u);
  BOOST_TEST(g->ranges()[2].page_count == 2u);
  BOOST_TEST((g->range_pfns(1)[0] == Pfn(10)));
  BOOST_TEST(!g->is_whole_pages());
}

BOOST_AUTO_TEST_CASE(numbered_bodies_are_accepted_in_sequence) {
  EncodeOptions o;
  o.number_bodies = true;
  BOOST_TEST(assemble(encode_gpadl_pages(1, 7, pages(90), o)).ok());
}

BOOST_AUTO_TEST_CASE(body_out_of_sequence_is_rejected) {
  EncodeOptions o;
  o.number_bodies = true;
  auto msgs = encode_gpadl_pages(1, 7, pages(90), o);
  BOOST_REQUIRE(msgs.size() >= 3);
  std::swap(msgs[1], msgs[2]);  // bodies 2 then 1
  BOOST_TEST(kind_of(msgs) == ErrorKind::kBodyOutOfSequence);
}

BOOST_AUTO_TEST_CASE(numbered_body_after_unnumbered_one_is_rejected) {
  auto msgs = encode_gpadl_pages(1, 7, pages(90));
  wire::GpadlBodyMsg b;
  std::memcpy(&b, msgs[2].data(), sizeof b);
  b.msgnumber = 2;
  std::memcpy(msgs[2].data(), &b, sizeof b);
  BOOST_TEST(kind_of(msgs) == ErrorKind::kBodyOutOfSequence);
}

BOOST_AUTO_TEST_CASE(range_count_zero_is_rejected) {
  const std::uint64_t s[] = {range_slot(4096, 0), 1};
  BOOST_TEST(kind_of({header_msg(5, 16, 0, s)}) == ErrorKind::kRangeCountZero);
}

BOOST_AUTO_TEST_CASE(range_count_over_cap_is_rejected) {
  Limits l;
  l.max_ranges = 2;
  std::vector<EncodeRange> ranges{{0, 1, pages(1, 1)}, {0, 1, pages(1, 2)}, {0, 1, pages(1, 3)}};
  BOOST_TEST(kind_of(encode_gpadl(1, 9, ranges), l) == ErrorKind::kRangeCountOverCap);
}

BOOST_AUTO_TEST_CASE(page_count_over_cap_is_rejected_at_the_header) {
  Limits l;
  l.max_pages_per_gpadl = 32;
  auto a = Assembler::begin(encode_gpadl_pages(1, 7, pages(33))[0], layout(), l);
  BOOST_REQUIRE(!a.ok());
  BOOST_TEST(a.error().kind == ErrorKind::kPageCountOverCap);
  BOOST_TEST(a.error().handle == 7u);
}

BOOST_AUTO_TEST_CASE(message_over_cap_is_rejected) {
  const std::vector<std::uint64_t> s(30, 1);  // 20 + 240 bytes
  auto m = header_msg(5, 30 * 8, 1, s);
  std::memcpy(m.data() + sizeof(wire::GpadlHeaderMsg), std::array{range_slot(29 * 4096, 0)}.data(), 8);
  BOOST_TEST(kind_of({m}) == ErrorKind::kMessageOverCap);
}

BOOST_AUTO_TEST_CASE(range_buflen_inconsistent_with_rangecount_is_rejected) {
  const std::uint64_t s[] = {range_slot(4096, 0), 1};
  BOOST_TEST(kind_of({header_msg(5, 17, 1, s)}) == ErrorKind::kRangeBufLenInconsistent);
  BOOST_TEST(kind_of({header_msg(5, 8, 1, std::span(s, 1))}) ==
             ErrorKind::kRangeBufLenInconsistent);
  // The header carries more range bytes than range_buflen announces.
  BOOST_TEST(kind_of({header_msg(5, 8 * 2, 1, std::array<std::uint64_t, 3>{range_slot(8192, 0), 1, 2})}) ==
             ErrorKind::kRangeBufLenInconsistent);
}

BOOST_AUTO_TEST_CASE(byte_offset_past_first_page_is_rejected) {
  const std::uint64_t s[] = {range_slot(1, 4096), 1};
  BOOST_TEST(kind_of({header_msg(5, 16, 1, s)}) == ErrorKind::kByteOffsetOutOfPage);
}

BOOST_AUTO_TEST_CASE(byte_count_zero_is_rejected) {
  const std::uint64_t s[] = {range_slot(0, 0), 1};
  BOOST_TEST(kind_of({header_msg(5, 16, 1, s)}) == ErrorKind::kByteCountZero);
}

BOOST_AUTO_TEST_CASE(pages_spanned_disagreeing_with_range_buflen_is_rejected) {
  // 4097 bytes span two pages, range_buflen leaves room for one.
  const std::uint64_t one[] = {range_slot(4097, 0), 1};
  BOOST_TEST(kind_of({header_msg(5, 16, 1, one)}) == ErrorKind::kRangePageMismatch);
  // 100 bytes span one page, range_buflen announces two.
  const std::uint64_t two[] = {range_slot(100, 0), 1, 2};
  BOOST_TEST(kind_of({header_msg(5, 24, 1, two)}) == ErrorKind::kRangePageMismatch);
  // Offset pushes 4096 bytes onto a second page.
  const std::uint64_t off[] = {range_slot(4096, 1), 1};
  BOOST_TEST(kind_of({header_msg(5, 16, 1, off)}) == ErrorKind::kRangePageMismatch);
}

BOOST_AUTO_TEST_CASE(pfn_outside_guest_ram_is_rejected) {
  for (const std::uint64_t bad : {std::uint64_t{64}, kHighBase - 1, kHighBase + 64,
                                  UINT64_MAX, UINT64_MAX >> 12}) {
    auto p = pages(40);
    p[30] = Pfn(bad);  // in a body
    auto g = assemble(encode_gpadl_pages(1, 7, p));
    BOOST_REQUIRE(!g.ok());
    BOOST_TEST(g.error().kind == ErrorKind::kPfnNotRam);
  }
}

BOOST_AUTO_TEST_CASE(handle_zero_is_rejected) {
  BOOST_TEST(kind_of(encode_gpadl_pages(1, 0, pages(2))) == ErrorKind::kHandleZero);
}

BOOST_AUTO_TEST_CASE(short_header_and_short_body_are_rejected) {
  auto msgs = encode_gpadl_pages(1, 7, pages(30));
  auto a = Assembler::begin(std::span(msgs[0]).first(sizeof(wire::GpadlHeaderMsg) - 1), layout());
  BOOST_REQUIRE(!a.ok());
  BOOST_TEST(a.error().kind == ErrorKind::kShortMessage);
  // A header with no gpa_range at all.
  a = Assembler::begin(std::span(msgs[0]).first(sizeof(wire::GpadlHeaderMsg)), layout());
  BOOST_REQUIRE(!a.ok());
  BOOST_TEST(a.error().kind == ErrorKind::kShortMessage);
  a = Assembler::begin(msgs[0], layout());
  BOOST_REQUIRE(a.ok());
  auto r = a->add_body(std::span(msgs[1]).first(sizeof(wire::GpadlBodyMsg)), layout());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kShortMessage);
  r = a->add_body(std::span(msgs[1]).first(sizeof(wire::GpadlBodyMsg) + 12), layout());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kMisalignedPayload);
}

BOOST_AUTO_TEST_CASE(body_longer_than_outstanding_pages_is_rejected) {
  auto msgs = encode_gpadl_pages(1, 7, pages(30));  // header 26, body 4
  msgs[1].resize(msgs[1].size() + 8);
  BOOST_TEST(kind_of(msgs) == ErrorKind::kBodyTooLong);
}

BOOST_AUTO_TEST_CASE(body_after_completion_is_rejected) {
  const auto msgs = encode_gpadl_pages(1, 7, pages(30));
  auto a = Assembler::begin(msgs[0], layout());
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(a->add_body(msgs[1], layout()).ok());
  auto r = a->add_body(msgs[1], layout());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kGpadlAlreadyComplete);
}

BOOST_AUTO_TEST_CASE(largest_wire_gpadl_assembles_and_one_more_page_does_not) {
  // 8190 pages: range_buflen = 8 + 8190 * 8 = 65528, the largest a u16 allows.
  std::vector<Pfn> p(8190, Pfn(3));
  auto g = assemble(encode_gpadl_pages(1, 7, p));
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g->page_count() == 8190u);
  Limits l;
  l.max_pages_per_gpadl = 8189;
  BOOST_TEST(kind_of(encode_gpadl_pages(1, 7, p), l) == ErrorKind::kPageCountOverCap);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::gpadl

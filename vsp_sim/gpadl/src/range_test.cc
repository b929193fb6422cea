#include <sys/mman.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "vscsim/gpadl/encode.h"
#include "vscsim/gpadl/range.h"
#include "vscsim/memory/guest_memory.h"

namespace vscsim::gpadl {
namespace {

using memory::GuestAddress;
using memory::kPageSize;
using memory::Pfn;

constexpr std::uint64_t kHighBase = memory::kFourGiB >> memory::kPageShift;

memory::MemoryLayout layout() {
  return memory::MemoryLayout::split(32 * kPageSize, 16 * kPageSize).value();
}

BOOST_AUTO_TEST_SUITE(gpadl_range)

BOOST_AUTO_TEST_CASE(spans_honour_first_page_offset_and_length) {
  const std::vector<Pfn> p{Pfn(5), Pfn(9), Pfn(2)};
  auto s = resolve_spans({p, 100, 2 * kPageSize}, 0, 2 * kPageSize, layout());
  BOOST_REQUIRE(s.ok());
  const std::vector<GuestSpan> want{{GuestAddress(5 * kPageSize + 100), kPageSize - 100},
                                    {GuestAddress(9 * kPageSize), kPageSize},
                                    {GuestAddress(2 * kPageSize), 100}};
  BOOST_TEST((*s == want));
}

BOOST_AUTO_TEST_CASE(adjacent_pages_merge_into_one_span) {
  const std::vector<Pfn> p{Pfn(3), Pfn(4), Pfn(5), Pfn(8)};
  auto s = resolve_spans({p, 0, 4 * kPageSize}, 10, 4 * kPageSize - 20, layout());
  BOOST_REQUIRE(s.ok());
  const std::vector<GuestSpan> want{{GuestAddress(3 * kPageSize + 10), 3 * kPageSize - 10},
                                    {GuestAddress(8 * kPageSize), kPageSize - 10}};
  BOOST_TEST((*s == want));
}

BOOST_AUTO_TEST_CASE(pages_adjacent_in_pfn_but_across_the_ram_end_do_not_merge) {
  // Last low page and the hole: pfn 15 is RAM, pfn 16 is not.
  const std::vector<Pfn> p{Pfn(15), Pfn(16)};
  auto s = resolve_spans({p, 0, 2 * kPageSize}, 0, 2 * kPageSize, layout());
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST((s.error().kind == RangeError::Kind::kNotRam));
}

BOOST_AUTO_TEST_CASE(window_inside_range_resolves_only_its_pages) {
  // A bad page outside the window is not touched by it.
  const std::vector<Pfn> p{Pfn(1), Pfn(2), Pfn(1000)};
  auto s = resolve_spans({p, 0, 3 * kPageSize}, 4000, 100, layout());
  BOOST_REQUIRE(s.ok());
  const std::vector<GuestSpan> want{{GuestAddress(kPageSize + 4000), 100}};
  BOOST_TEST((*s == want));
  s = resolve_spans({p, 0, 3 * kPageSize}, 2 * kPageSize, 1, layout());
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST((s.error().kind == RangeError::Kind::kNotRam));
}

BOOST_AUTO_TEST_CASE(range_shape_errors_are_distinct) {
  using K = RangeError::Kind;
  const std::vector<Pfn> p{Pfn(1), Pfn(2)};
  BOOST_TEST((resolve_spans({{}, 0, 1}, 0, 1, layout()).error().kind == K::kEmptyPageList));
  BOOST_TEST((resolve_spans({p, 4096, 1}, 0, 1, layout()).error().kind == K::kOffsetOutOfPage));
  BOOST_TEST((resolve_spans({p, 0, kPageSize}, 0, 1, layout()).error().kind == K::kPagesMismatch));
  BOOST_TEST((resolve_spans({p, 0, UINT64_MAX}, 0, 1, layout()).error().kind == K::kPagesMismatch));
  BOOST_TEST((resolve_spans({p, 1, kPageSize}, 10, kPageSize, layout()).error().kind ==
              K::kWindowOutOfRange));
  BOOST_TEST((resolve_spans({p, 1, kPageSize}, UINT64_MAX, 2, layout()).error().kind ==
              K::kWindowOutOfRange));
  BOOST_TEST((resolve_spans({p, 1, kPageSize}, 0, 1, layout(), 1).error().kind ==
              K::kTooManyPages));
}

BOOST_AUTO_TEST_CASE(spans_address_the_same_bytes_as_read_pages) {
  const int fd = memfd_create("guest-ram", MFD_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(ftruncate(fd, 32 * kPageSize) == 0);
  auto mem = memory::GuestMemory::map_fd(fd, layout());
  close(fd);
  BOOST_REQUIRE(mem.ok());
  std::vector<std::byte> fill(32 * kPageSize);
  for (std::size_t i = 0; i < 16 * kPageSize; ++i) fill[i] = std::byte(i * 7 + i / 4096);
  BOOST_REQUIRE(mem->write(GuestAddress(0), std::span(fill).first(16 * kPageSize)).ok());
  BOOST_REQUIRE(mem->write(GuestAddress(memory::kFourGiB), std::span(fill).first(16 * kPageSize)).ok());
  const std::vector<Pfn> p{Pfn(7), Pfn(kHighBase + 2), Pfn(kHighBase + 3), Pfn(1)};
  const PageRange range{p, 300, 3 * kPageSize + 5};
  std::vector<std::byte> want(2 * kPageSize);
  BOOST_REQUIRE(mem->read_pages(p, 300 + 1000, want).ok());
  auto spans = resolve_spans(range, 1000, want.size(), layout());
  BOOST_REQUIRE(spans.ok());
  std::vector<std::byte> got;
  for (const auto& s : *spans) {
    std::vector<std::byte> piece(s.length);
    BOOST_REQUIRE(mem->read(s.gpa, piece).ok());
    got.insert(got.end(), piece.begin(), piece.end());
  }
  BOOST_TEST((got == want));
  BOOST_TEST(spans->size() == 2u);  // pfn 7, then high 2-3 merged; pfn 1 is past the window
}

BOOST_AUTO_TEST_CASE(ring_split_follows_downstream_page_offset) {
  std::vector<Pfn> p;
  for (std::uint64_t i = 0; i < 8; ++i) p.push_back(Pfn(i + 1));
  const Gpadl g(7, 1, {Range{0, 8 * kPageSize, 0, 8}}, p);
  auto s = split_ring(g, 3);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s->guest_to_host.size() == 3u);
  BOOST_TEST(s->host_to_guest.size() == 5u);
  BOOST_TEST((s->host_to_guest[0] == Pfn(4)));
  BOOST_TEST(!split_ring(g, 1).ok());  // g2h ring without a data page
  BOOST_TEST(!split_ring(g, 7).ok());  // h2g ring without a data page
  BOOST_TEST(!split_ring(g, 0).ok());
  BOOST_TEST(!split_ring(g, UINT32_MAX).ok());
  const Gpadl offset(8, 1, {Range{1, 8 * kPageSize - 1, 0, 8}}, p);
  BOOST_TEST(!split_ring(offset, 3).ok());  // not whole pages
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::gpadl

#define BOOST_TEST_MODULE memory_test
#include "vscsim/memory/layout.h"

#include <boost/test/unit_test.hpp>

namespace vscsim::memory {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::optional<std::uint64_t> offset_of(const MemoryLayout& l, std::uint64_t gpa) {
  auto t = l.translate(GuestAddress(gpa));
  if (!t) return std::nullopt;
  return t->file_offset;
}

BOOST_AUTO_TEST_SUITE(layout)

BOOST_AUTO_TEST_CASE(q35_small_guest_is_identity_below_ram_size) {
  auto l = MemoryLayout::q35(512 * kMiB).value();
  BOOST_TEST(l.below_4g() == 512 * kMiB);
  BOOST_TEST(l.above_4g() == 0u);
  BOOST_TEST(offset_of(l, 0).value() == 0u);
  BOOST_TEST(offset_of(l, 0x1234567).value() == 0x1234567u);
  BOOST_TEST(offset_of(l, 512 * kMiB - 1).value() == 512 * kMiB - 1);
  BOOST_TEST(!offset_of(l, 512 * kMiB));
  BOOST_TEST(!offset_of(l, kFourGiB));
  BOOST_TEST(l.translate(GuestAddress(512 * kMiB - 8))->contiguous == 8u);
}

BOOST_AUTO_TEST_CASE(q35_guest_below_2_75_gib_keeps_all_ram_low) {
  const std::uint64_t ram = 0xB0000000ULL - kPageSize;
  auto l = MemoryLayout::q35(ram).value();
  BOOST_TEST(l.below_4g() == ram);
  BOOST_TEST(l.above_4g() == 0u);
  BOOST_TEST(offset_of(l, ram - 1).value() == ram - 1);
  BOOST_TEST(!offset_of(l, kFourGiB));
}

BOOST_AUTO_TEST_CASE(q35_guest_of_2_75_gib_or_more_splits_at_2_gib) {
  const std::uint64_t ram = 0xB0000000ULL;
  auto l = MemoryLayout::q35(ram).value();
  BOOST_TEST(l.below_4g() == 2 * kGiB);
  BOOST_TEST(l.above_4g() == ram - 2 * kGiB);
  BOOST_TEST(offset_of(l, 2 * kGiB - 1).value() == 2 * kGiB - 1);
  // The hole between 2 GiB and 4 GiB maps to nothing.
  BOOST_TEST(!offset_of(l, 2 * kGiB));
  BOOST_TEST(!offset_of(l, 3 * kGiB));
  BOOST_TEST(!offset_of(l, kFourGiB - 1));
  // RAM above the hole: gpa - 4 GiB + lowmem.
  BOOST_TEST(offset_of(l, kFourGiB).value() == 2 * kGiB);
  BOOST_TEST(offset_of(l, kFourGiB + 0x5000).value() == 2 * kGiB + 0x5000);
  const std::uint64_t last = kFourGiB + l.above_4g() - 1;
  BOOST_TEST(offset_of(l, last).value() == ram - 1);
  BOOST_TEST(!offset_of(l, last + 1));
  BOOST_TEST(l.translate(GuestAddress(last))->contiguous == 1u);
}

BOOST_AUTO_TEST_CASE(q35_8_gib_guest_maps_top_byte_to_end_of_file) {
  auto l = MemoryLayout::q35(8 * kGiB).value();
  BOOST_TEST(l.below_4g() == 2 * kGiB);
  BOOST_TEST(offset_of(l, kFourGiB + 6 * kGiB - 1).value() == 8 * kGiB - 1);
  BOOST_TEST(!offset_of(l, kFourGiB + 6 * kGiB));
}

BOOST_AUTO_TEST_CASE(q35_honours_max_ram_below_4g) {
  auto l = MemoryLayout::q35(1 * kGiB, 512 * kMiB).value();
  BOOST_TEST(l.below_4g() == 512 * kMiB);
  BOOST_TEST(l.above_4g() == 512 * kMiB);
  BOOST_TEST(offset_of(l, kFourGiB).value() == 512 * kMiB);
  BOOST_TEST(!offset_of(l, 512 * kMiB));
}

BOOST_AUTO_TEST_CASE(translate_rejects_addresses_near_u64_max) {
  auto l = MemoryLayout::q35(8 * kGiB).value();
  BOOST_TEST(!offset_of(l, UINT64_MAX));
  BOOST_TEST(!offset_of(l, UINT64_MAX - kFourGiB));
}

BOOST_AUTO_TEST_CASE(split_rejects_unaligned_or_inconsistent_sizes) {
  BOOST_TEST(!MemoryLayout::split(0, 0).ok());
  BOOST_TEST(!MemoryLayout::split(kPageSize + 1, 0).ok());
  BOOST_TEST(!MemoryLayout::split(8 * kPageSize, 9 * kPageSize).ok());
  BOOST_TEST(!MemoryLayout::split(8 * kPageSize, 100).ok());
  BOOST_TEST(!MemoryLayout::split(8 * kGiB, 5 * kGiB).ok());
  BOOST_TEST(MemoryLayout::split(8 * kPageSize, 4 * kPageSize).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::memory

#include "vscsim/memory/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <fmt/core.h>
#include <vector>

namespace vscsim::memory {
namespace {

// A memfd-backed guest: `low_pages` pages at GPA 0, the rest at 4 GiB.
struct MemfdGuest {
  explicit MemfdGuest(std::uint64_t pages, std::uint64_t low_pages) {
    fd = memfd_create("guest-ram", MFD_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(ftruncate(fd, static_cast<off_t>(pages * kPageSize)) == 0);
    auto layout = MemoryLayout::split(pages * kPageSize, low_pages * kPageSize);
    BOOST_REQUIRE(layout.ok());
    auto m = GuestMemory::map_fd(fd, *layout);
    BOOST_REQUIRE(m.ok());
    mem.emplace(std::move(m).value());
    // A second, independent mapping of the file: what "QEMU" sees.
    raw = static_cast<std::uint8_t*>(
        mmap(nullptr, pages * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    BOOST_REQUIRE(raw != MAP_FAILED);
    size = pages * kPageSize;
  }
  ~MemfdGuest() {
    munmap(raw, size);
    close(fd);
  }
  int fd = -1;
  std::optional<GuestMemory> mem;
  std::uint8_t* raw = nullptr;
  std::uint64_t size = 0;
};

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte(static_cast<std::uint8_t>(seed + i * 7));
  return v;
}

BOOST_AUTO_TEST_SUITE(guest_memory)

BOOST_AUTO_TEST_CASE(write_then_read_round_trips_through_the_file) {
  MemfdGuest g(4, 4);
  auto data = pattern(100, 3);
  BOOST_REQUIRE(g.mem->write(GuestAddress(0x1ff0), data).ok());
  BOOST_TEST(g.raw[0x1ff0] == static_cast<std::uint8_t>(data[0]));
  BOOST_TEST(g.raw[0x1ff0 + 99] == static_cast<std::uint8_t>(data[99]));
  std::vector<std::byte> back(100);
  BOOST_REQUIRE(g.mem->read(GuestAddress(0x1ff0), back).ok());
  BOOST_TEST(back == data);
}

BOOST_AUTO_TEST_CASE(high_ram_is_reached_at_4_gib_and_maps_after_low_ram) {
  MemfdGuest g(4, 2);  // 2 pages low, 2 pages at 4 GiB
  g.raw[2 * kPageSize + 5] = 0xab;
  auto v = g.mem->read_obj<std::uint8_t>(GuestAddress(kFourGiB + 5));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(*v == 0xab);
  // The hole right after low RAM is not RAM.
  auto hole = g.mem->read_obj<std::uint8_t>(GuestAddress(2 * kPageSize));
  BOOST_REQUIRE(!hole.ok());
  BOOST_TEST(static_cast<int>(hole.error().kind) == static_cast<int>(MemoryError::Kind::kNotRam));
}

BOOST_AUTO_TEST_CASE(read_past_end_of_ram_reports_partial_progress) {
  MemfdGuest g(2, 2);
  std::vector<std::byte> out(64, std::byte{0xee});
  std::memset(g.raw + 2 * kPageSize - 16, 0x11, 16);
  auto r = g.mem->read(GuestAddress(2 * kPageSize - 16), out);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().expected == 64u);
  BOOST_TEST(r.error().completed == 16u);
  BOOST_TEST(r.error().address.value() == 2 * kPageSize);
  BOOST_TEST(static_cast<std::uint8_t>(out[15]) == 0x11);
  BOOST_TEST(static_cast<std::uint8_t>(out[16]) == 0xee);  // nothing past RAM was produced
}

BOOST_AUTO_TEST_CASE(write_into_hole_touches_nothing_beyond_ram) {
  MemfdGuest g(4, 2);
  std::vector<std::byte> data(32, std::byte{0x77});
  auto r = g.mem->write(GuestAddress(2 * kPageSize - 8), data);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().completed == 8u);
  // The file byte right after low RAM belongs to the high region: untouched.
  BOOST_TEST(g.raw[2 * kPageSize] == 0);
  BOOST_TEST(g.raw[2 * kPageSize - 1] == 0x77);
}

BOOST_AUTO_TEST_CASE(access_wrapping_the_address_space_fails_without_overflow) {
  MemfdGuest g(2, 2);
  std::vector<std::byte> out(16);
  auto r = g.mem->read(GuestAddress(UINT64_MAX - 3), out);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().completed == 0u);
  auto r2 = g.mem->read(GuestAddress(UINT64_MAX), {});
  BOOST_TEST(r2.ok());  // an empty access touches nothing and succeeds
}

BOOST_AUTO_TEST_CASE(objects_round_trip_by_value) {
  MemfdGuest g(2, 2);
  struct Pair {
    std::uint32_t a;
    std::uint64_t b;
  };
  BOOST_REQUIRE(g.mem->write_obj(GuestAddress(0x100), Pair{7, 0x1122334455667788ULL}).ok());
  auto p = g.mem->read_obj<Pair>(GuestAddress(0x100));
  BOOST_REQUIRE(p.ok());
  BOOST_TEST(p->a == 7u);
  BOOST_TEST(p->b == 0x1122334455667788ULL);
  BOOST_TEST(!g.mem->read_obj<Pair>(GuestAddress(2 * kPageSize - 4)).ok());
}

BOOST_AUTO_TEST_CASE(read_pages_gathers_scattered_pages_in_list_order) {
  MemfdGuest g(8, 4);  // pages 0-3 low, 4-7 at 4 GiB (pfn 0x100000..)
  for (std::uint64_t p = 0; p < 8; ++p) std::memset(g.raw + p * kPageSize, int(0x10 + p), kPageSize);
  const std::array<Pfn, 3> pfns{Pfn(3), Pfn((kFourGiB >> kPageShift) + 1), Pfn(0)};
  std::vector<std::byte> out(2 * kPageSize);
  BOOST_REQUIRE(g.mem->read_pages(pfns, 100, out).ok());
  BOOST_TEST(static_cast<int>(out[0]) == 0x13);
  BOOST_TEST(static_cast<int>(out[kPageSize - 101]) == 0x13);
  BOOST_TEST(static_cast<int>(out[kPageSize - 100]) == 0x15);  // file page 5 = GPA 4 GiB + 1 page
  BOOST_TEST(static_cast<int>(out[2 * kPageSize - 101]) == 0x15);
  BOOST_TEST(static_cast<int>(out[2 * kPageSize - 100]) == 0x10);
}

BOOST_AUTO_TEST_CASE(read_pages_rejects_buffer_running_past_the_list) {
  MemfdGuest g(4, 4);
  const std::array<Pfn, 2> pfns{Pfn(0), Pfn(1)};
  std::vector<std::byte> out(kPageSize + 1);
  auto r = g.mem->read_pages(pfns, kPageSize, out);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(MemoryError::Kind::kBadRequest));
  BOOST_TEST(!g.mem->read_pages(pfns, UINT64_MAX, std::span(out).first(1)).ok());
}

BOOST_AUTO_TEST_CASE(read_pages_stops_at_a_page_outside_ram) {
  MemfdGuest g(4, 4);
  const std::array<Pfn, 3> pfns{Pfn(1), Pfn(4), Pfn(UINT64_MAX)};
  std::vector<std::byte> out(3 * kPageSize);
  auto r = g.mem->read_pages(pfns, 0, out);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().completed == kPageSize);
  const std::array<Pfn, 1> huge{Pfn(UINT64_MAX)};
  BOOST_TEST(!g.mem->read_pages(huge, 0, std::span(out).first(8)).ok());
}

BOOST_AUTO_TEST_CASE(write_pages_scatters_into_the_named_pages_only) {
  MemfdGuest g(4, 4);
  const std::array<Pfn, 2> pfns{Pfn(2), Pfn(0)};
  auto data = pattern(kPageSize, 1);
  BOOST_REQUIRE(g.mem->write_pages(pfns, kPageSize / 2, data).ok());
  BOOST_TEST(g.raw[2 * kPageSize + kPageSize / 2] == static_cast<std::uint8_t>(data[0]));
  BOOST_TEST(g.raw[0] == static_cast<std::uint8_t>(data[kPageSize / 2]));
  BOOST_TEST(g.raw[kPageSize / 2] == 0);  // past the end of the buffer in page 0
  BOOST_TEST(g.raw[kPageSize] == 0);      // page 1 untouched
}

BOOST_AUTO_TEST_CASE(map_pages_gives_contiguous_view_of_scattered_pages) {
  MemfdGuest g(8, 4);
  const std::array<Pfn, 4> pfns{Pfn(2), Pfn(3), Pfn(kFourGiB >> kPageShift), Pfn(1)};
  auto v = g.mem->map_pages(pfns);
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->page_count() == 4u);
  auto bytes = v->bytes();
  bytes[0] = std::byte{0x21};
  bytes[kPageSize * 2 + 3] = std::byte{0x43};
  bytes[kPageSize * 3] = std::byte{0x65};
  BOOST_TEST(g.raw[2 * kPageSize] == 0x21);
  BOOST_TEST(g.raw[4 * kPageSize + 3] == 0x43);  // GPA 4 GiB is file page 4
  BOOST_TEST(g.raw[1 * kPageSize] == 0x65);
  g.raw[3 * kPageSize + 9] = 0x99;  // the guest writes; the view sees it
  BOOST_TEST(static_cast<int>(bytes[kPageSize + 9]) == 0x99);
}

BOOST_AUTO_TEST_CASE(map_pages_rejects_pages_outside_ram_and_empty_lists) {
  MemfdGuest g(4, 2);
  const std::array<Pfn, 2> in_hole{Pfn(0), Pfn(2)};
  auto r = g.mem->map_pages(in_hole);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(MemoryError::Kind::kNotRam));
  const std::array<Pfn, 1> overflow{Pfn(UINT64_MAX >> 4)};
  BOOST_TEST(!g.mem->map_pages(overflow).ok());
  BOOST_TEST(!g.mem->map_pages({}).ok());
}

BOOST_AUTO_TEST_CASE(map_file_opens_a_memfd_through_proc) {
  MemfdGuest g(2, 2);
  g.raw[7] = 0x5a;
  auto layout = MemoryLayout::split(2 * kPageSize, 2 * kPageSize).value();
  auto m = GuestMemory::map_file(fmt::format("/proc/{}/fd/{}", getpid(), g.fd), layout);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m->read_obj<std::uint8_t>(GuestAddress(7)).value() == 0x5a);
}

BOOST_AUTO_TEST_CASE(map_fd_rejects_file_smaller_than_layout) {
  MemfdGuest g(2, 2);
  auto layout = MemoryLayout::split(4 * kPageSize, 4 * kPageSize).value();
  auto m = GuestMemory::map_fd(g.fd, layout);
  BOOST_REQUIRE(!m.ok());
  BOOST_TEST(static_cast<int>(m.error().kind) == static_cast<int>(MemoryError::Kind::kSystem));
  BOOST_TEST(!GuestMemory::map_file("/nonexistent/ram", layout).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::memory

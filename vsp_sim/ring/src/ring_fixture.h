// Test fixture: a memfd-backed guest with a ring pair on scattered GPADL
// pages (alternating between low RAM and RAM above 4 GiB), the test guest on
// one side and the host reader/writer on the other.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <optional>
#include <vector>

#include "vscsim/memory/guest_memory.h"
#include "vscsim/ring/ring.h"
#include "vscsim/ring/test_guest.h"

namespace vscsim::ring::testing {

using memory::kPageSize;
using memory::Pfn;

inline constexpr std::uint64_t kLowPages = 32;
inline constexpr std::uint64_t kHighPages = 32;
inline constexpr std::uint64_t kHighBase = memory::kFourGiB >> memory::kPageShift;

// Ring pages: even i -> low page 30 - i, odd i -> high page kHighBase + i.
inline Pfn ring_page(std::size_t i) {
  return i % 2 == 0 ? Pfn(30 - i) : Pfn(kHighBase + i);
}
// Pages the rings never use, for GPA-direct buffers.
inline const Pfn kSpareLow{31};
inline const Pfn kSpareHighA{kHighBase + 30};
inline const Pfn kSpareHighB{kHighBase + 31};

struct RingFixture {
  explicit RingFixture(std::uint32_t g2h_data_pages = 2, std::uint32_t h2g_data_pages = 2,
                       TestGuest::Options options = {}, ReaderLimits reader_limits = {},
                       bool attach_host = true) {
    fd = memfd_create("guest-ram", MFD_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(ftruncate(fd, static_cast<off_t>((kLowPages + kHighPages) * kPageSize)) == 0);
    auto layout = memory::MemoryLayout::split((kLowPages + kHighPages) * kPageSize,
                                              kLowPages * kPageSize);
    auto m = memory::GuestMemory::map_fd(fd, layout.value());
    BOOST_REQUIRE(m.ok());
    mem.emplace(std::move(m).value());
    const std::size_t total = 2 + g2h_data_pages + h2g_data_pages;
    BOOST_REQUIRE(total <= 28);
    for (std::size_t i = 0; i < total; ++i) gpadl.push_back(ring_page(i));
    auto p = map_ring_pair(*mem, gpadl, 1 + g2h_data_pages);
    BOOST_REQUIRE(p.ok());
    pair.emplace(std::move(p).value());
    guest.emplace(pair->guest_to_host, pair->host_to_guest, options);
    limits = reader_limits;
    if (attach_host) attach();
  }
  ~RingFixture() {
    pair.reset();
    mem.reset();
    close(fd);
  }
  void attach() {
    host_rx.emplace(pair->guest_to_host, limits);
    host_tx.emplace(pair->host_to_guest);
  }

  int fd = -1;
  std::optional<memory::GuestMemory> mem;
  std::vector<Pfn> gpadl;
  std::optional<MappedRingPair> pair;
  std::optional<TestGuest> guest;
  ReaderLimits limits;
  std::optional<RingReader> host_rx;
  std::optional<RingWriter> host_tx;
};

inline std::vector<std::byte> make_payload(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = std::byte(static_cast<std::uint8_t>((seed * 131 + i * 7 + 1) & 0xff));
  }
  return v;
}

inline std::vector<std::byte> as_vector(std::span<const std::byte> s) {
  return {s.begin(), s.end()};
}

inline std::string corrupt_reason(const ReadError& e) {
  return std::holds_alternative<Corrupt>(e) ? std::get<Corrupt>(e).reason : std::string();
}
inline std::string corrupt_reason(const WriteError& e) {
  return std::holds_alternative<Corrupt>(e) ? std::get<Corrupt>(e).reason : std::string();
}

// A raw packet: descriptor fields as given, `bytes` long (a multiple of 8).
inline std::vector<std::byte> raw_packet(std::uint16_t offset8, std::uint16_t len8,
                                         std::size_t bytes) {
  std::vector<std::byte> v(bytes);
  const wire::VmpacketDescriptor d{static_cast<std::uint16_t>(wire::PacketType::kDataInband),
                                   offset8, len8, 0, 1};
  std::memcpy(v.data(), &d, std::min(bytes, sizeof d));
  return v;
}

}  // namespace vscsim::ring::testing

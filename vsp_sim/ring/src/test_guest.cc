#include "vscsim/ring/test_guest.h"

#include <array>
#include <atomic>
#include <cstring>

#include "shared_header.h"

namespace vscsim::ring {

using detail::Field;
using detail::field;
using detail::kFullBarrier;
using detail::ring_distance;

TestGuest::TestGuest(RingRegion guest_to_host, RingRegion host_to_guest, Options options)
    : g2h_(guest_to_host), h2g_(host_to_guest) {
  std::memset(g2h_.header, 0, wire::kRingHeaderBytes);
  std::memset(h2g_.header, 0, wire::kRingHeaderBytes);
  header(g2h_).feature_bits = options.g2h_feature_pending_send_sz ? wire::kFeatPendingSendSz : 0;
  header(h2g_).feature_bits = options.h2g_feature_pending_send_sz ? wire::kFeatPendingSendSz : 0;
}

std::uint32_t TestGuest::g2h_free_bytes() const {
  const std::uint32_t rd = field(g2h_, Field::kReadIndex).load(kFullBarrier);  // [B], [D]
  return g2h_.data_size - ring_distance(rd % g2h_.data_size, g2h_write_, g2h_.data_size);
}

Result<bool, Full> TestGuest::produce(std::span<const std::span<const std::byte>> pieces) {
  std::uint64_t len = 0;
  for (auto p : pieces) len += p.size();
  const std::uint64_t total = len + wire::kPacketTrailerBytes;
  // A full ring never looks empty: strictly more free space than the packet.
  if (g2h_free_bytes() <= total) return Err(Full{static_cast<std::uint32_t>(total)});
  const std::uint32_t old_write = g2h_write_;
  std::uint32_t pos = old_write;
  for (auto p : pieces) {
    detail::copy_to_ring(g2h_, pos, p.data(), p.size());
    pos = detail::ring_advance(pos, p.size(), g2h_.data_size);
  }
  const std::uint64_t trailer = std::uint64_t{old_write} << 32;
  detail::copy_to_ring(g2h_, pos, &trailer, sizeof trailer);
  g2h_write_ = detail::ring_advance(pos, sizeof trailer, g2h_.data_size);
  // [A] store-release: packet bytes before the index. [C] full barrier,
  // then the mask, then read_index.
  field(g2h_, Field::kWriteIndex).store(g2h_write_, kFullBarrier);
  if (field(g2h_, Field::kInterruptMask).load(kFullBarrier) != 0) return false;  // [C]
  return field(g2h_, Field::kReadIndex).load(kFullBarrier) == old_write;  // [B]
}

Result<bool, Full> TestGuest::send(wire::PacketType type, std::uint16_t flags,
                                   std::uint64_t trans_id, std::span<const std::byte> payload) {
  const std::size_t padded = (payload.size() + 7) / 8 * 8;
  const wire::VmpacketDescriptor d{static_cast<std::uint16_t>(type), 2,
                                   static_cast<std::uint16_t>((16 + padded) / 8), flags, trans_id};
  static constexpr std::array<std::byte, 8> kZeros{};
  const std::array<std::span<const std::byte>, 3> pieces{
      std::as_bytes(std::span(&d, 1)), payload,
      std::span<const std::byte>(kZeros).first(padded - payload.size())};
  return produce(pieces);
}

Result<bool, Full> TestGuest::send_gpa_direct(std::uint64_t trans_id,
                                              std::span<const wire::ParsedGpaRange> ranges,
                                              std::span<const std::byte> payload) {
  std::vector<std::byte> head(sizeof(wire::GpaDirectHeader));
  for (const auto& r : ranges) {
    const wire::GpaRange gr{r.byte_count, r.byte_offset};
    const auto* p = reinterpret_cast<const std::byte*>(&gr);
    head.insert(head.end(), p, p + sizeof gr);
    const auto* pf = reinterpret_cast<const std::byte*>(r.pfns.data());
    head.insert(head.end(), pf, pf + r.pfns.size() * sizeof(std::uint64_t));
  }
  const std::size_t padded = (payload.size() + 7) / 8 * 8;
  wire::GpaDirectHeader h{};
  h.d.type = static_cast<std::uint16_t>(wire::PacketType::kDataUsingGpaDirect);
  h.d.offset8 = static_cast<std::uint16_t>(head.size() / 8);
  h.d.len8 = static_cast<std::uint16_t>((head.size() + padded) / 8);
  h.d.flags = wire::kFlagCompletionRequested;
  h.d.trans_id = trans_id;
  h.range_count = static_cast<std::uint32_t>(ranges.size());
  std::memcpy(head.data(), &h, sizeof h);
  static constexpr std::array<std::byte, 8> kZeros{};
  const std::array<std::span<const std::byte>, 3> pieces{
      std::span<const std::byte>(head), payload,
      std::span<const std::byte>(kZeros).first(padded - payload.size())};
  return produce(pieces);
}

Result<bool, Full> TestGuest::send_raw(std::span<const std::byte> packet) {
  const std::array<std::span<const std::byte>, 1> pieces{packet};
  return produce(pieces);
}

bool TestGuest::set_pending_send_size(std::uint32_t bytes) {
  field(g2h_, Field::kPendingSendSz).store(bytes, kFullBarrier);  // [D]
  return g2h_free_bytes() > bytes;                                               // [B]
}

std::optional<std::vector<std::byte>> TestGuest::receive() {
  const std::uint32_t w = field(h2g_, Field::kWriteIndex).load(kFullBarrier);  // [A]
  if (w >= h2g_.data_size) return std::nullopt;
  const std::uint32_t avail = ring_distance(h2g_read_, w, h2g_.data_size);
  if (avail < sizeof(wire::VmpacketDescriptor) + wire::kPacketTrailerBytes) return std::nullopt;
  wire::VmpacketDescriptor d;
  detail::copy_from_ring(h2g_, h2g_read_, &d, sizeof d);
  const std::uint32_t len = std::uint32_t{d.len8} * 8;
  if (len < sizeof d || std::uint64_t{len} + wire::kPacketTrailerBytes > avail) return std::nullopt;
  std::vector<std::byte> packet(len);
  detail::copy_from_ring(h2g_, h2g_read_, packet.data(), len);
  h2g_read_ = detail::ring_advance(h2g_read_, std::uint64_t{len} + wire::kPacketTrailerBytes,
                                   h2g_.data_size);
  return packet;
}

bool TestGuest::close_receive() {
  const std::uint32_t start = field(h2g_, Field::kReadIndex).load(std::memory_order_relaxed);
  field(h2g_, Field::kReadIndex).store(h2g_read_, kFullBarrier);  // [B], [D]
  if ((field(h2g_, Field::kFeatureBits).load(std::memory_order_relaxed) &
       wire::kFeatPendingSendSz) == 0) {
    return false;
  }
  const std::uint32_t pending = field(h2g_, Field::kPendingSendSz).load(kFullBarrier);  // [D]
  if (pending == 0) return false;
  const std::uint32_t w = field(h2g_, Field::kWriteIndex).load(kFullBarrier);  // [A]
  const std::uint32_t size = h2g_.data_size;
  const std::uint32_t curr_free = size - ring_distance(h2g_read_, w % size, size);
  const std::uint32_t bytes_read = ring_distance(start % size, h2g_read_, size);
  // Linux's unsigned arithmetic, kept as is.
  if (curr_free - bytes_read > pending) return false;
  if (curr_free <= pending) return false;
  return true;
}

void TestGuest::mask_interrupts() {
  field(h2g_, Field::kInterruptMask).store(1, kFullBarrier);  // [C]
}

bool TestGuest::unmask_interrupts() {
  field(h2g_, Field::kInterruptMask).store(0, kFullBarrier);  // [C]
  const std::uint32_t w = field(h2g_, Field::kWriteIndex).load(kFullBarrier);  // [A]
  return w != h2g_read_;
}

}  // namespace vscsim::ring

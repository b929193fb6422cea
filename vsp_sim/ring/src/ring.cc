#include "vscsim/ring/ring.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>

#include <fmt/core.h>

#include "shared_header.h"
#include "vscsim/base/log.h"

namespace vscsim::ring {

using detail::Field;
using detail::field;
using detail::kFullBarrier;
using detail::ring_distance;
using detail::valid_index;

constexpr std::uint32_t kDescriptorBytes = sizeof(wire::VmpacketDescriptor);
constexpr std::uint32_t kTrailerBytes = wire::kPacketTrailerBytes;
constexpr std::uint64_t kMaxLen8Bytes = std::uint64_t{UINT16_MAX} * 8;

Result<RingRegion, std::string> ring_region(std::span<std::byte> pages) {
  const std::size_t page = memory::kPageSize;
  if (pages.size() < 2 * page || pages.size() % page != 0) {
    return Err(fmt::format("a ring needs a header page and data pages, got {} bytes",
                           pages.size()));
  }
  if (pages.size() - page > (std::size_t{1} << 31)) {
    return Err(fmt::format("ring of {} bytes is too large", pages.size()));
  }
  if (reinterpret_cast<std::uintptr_t>(pages.data()) % page != 0) {
    return Err(std::string("ring header is not page aligned"));
  }
  return RingRegion{pages.data(), pages.data() + page,
                    static_cast<std::uint32_t>(pages.size() - page)};
}

Result<MappedRingPair, std::string> map_ring_pair(const memory::GuestMemory& mem,
                                                  std::span<const memory::Pfn> gpadl_pages,
                                                  std::uint32_t downstream_page_offset) {
  if (downstream_page_offset < 2 || gpadl_pages.size() < std::size_t{downstream_page_offset} + 2) {
    return Err(fmt::format("downstream ring offset {} does not leave two rings in {} pages",
                           downstream_page_offset, gpadl_pages.size()));
  }
  auto view = mem.map_pages(gpadl_pages);
  if (!view.ok()) return Err(view.error().describe());
  const std::size_t split = std::size_t{downstream_page_offset} * memory::kPageSize;
  const auto bytes = view->bytes();
  auto g2h = ring_region(bytes.first(split));
  if (!g2h.ok()) return Err(std::move(g2h.error()));
  auto h2g = ring_region(bytes.subspan(split));
  if (!h2g.ok()) return Err(std::move(h2g.error()));
  return MappedRingPair{std::move(view).value(), *g2h, *h2g};
}

std::string describe_header(const RingRegion& r) {
  return fmt::format("w={:#x} r={:#x} mask={} pend={}", field(r, Field::kWriteIndex).load(std::memory_order_relaxed),
                     field(r, Field::kReadIndex).load(std::memory_order_relaxed),
                     field(r, Field::kInterruptMask).load(std::memory_order_relaxed),
                     field(r, Field::kPendingSendSz).load(std::memory_order_relaxed));
}

// ---- RingReader ----

RingReader::RingReader(RingRegion region, ReaderLimits limits)
    : r_(region),
      max_packet_(limits.max_packet_bytes == 0
                      ? region.data_size
                      : std::min(limits.max_packet_bytes, region.data_size)) {
  buf_.resize(std::min<std::uint64_t>(max_packet_, kMaxLen8Bytes));
  // The host owns read_index; the guest initialised it before OPENCHANNEL.
  // Loaded once here; from now on the host's private copy is the truth.
  const std::uint32_t read = field(r_, Field::kReadIndex).load(std::memory_order_relaxed);
  if (!valid_index(read, r_.data_size)) {
    fail(fmt::format("initial read index {:#x} invalid for a {:#x}-byte ring", read, r_.data_size));
    return;
  }
  priv_read_ = published_read_ = known_write_ = read;
}

Corrupt RingReader::fail(std::string reason) {
  if (!broken_) {
    broken_ = true;
    reason_ = std::move(reason);
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "vmbus: guest-to-host ring corrupt: {}", reason_);
  }
  return Corrupt{reason_};
}

Result<std::uint32_t, Corrupt> RingReader::load_write_index(const char* where) {
  // [A] load-acquire: packet bytes up to this index are visible after it
  // (seq_cst: also the second half of [C] in end_drain and [D] in
  // commit_read; on x86 the same load).
  const std::uint32_t w = field(r_, Field::kWriteIndex).load(kFullBarrier);
  if (!valid_index(w, r_.data_size)) {
    return Err(fail(fmt::format("{}: write index {:#x} invalid for a {:#x}-byte ring", where, w,
                                r_.data_size)));
  }
  return w;
}

Result<PacketView, ReadError> RingReader::read() {
  if (broken_) return Err(Corrupt{reason_});
  std::uint32_t avail = ring_distance(priv_read_, known_write_, r_.data_size);
  if (avail == 0) {
    auto w = load_write_index("read");
    if (!w.ok()) return Err(std::move(w.error()));
    known_write_ = *w;
    avail = ring_distance(priv_read_, known_write_, r_.data_size);
    if (avail == 0) return Err(Empty{});
  }
  if (avail < kDescriptorBytes + kTrailerBytes) {
    return Err(fail(fmt::format("{} bytes available: less than a descriptor and trailer",
                                          avail)));
  }
  // Don't trust guest data: the descriptor is copied once and only the copy is used.
  wire::VmpacketDescriptor d;
  detail::copy_from_ring(r_, priv_read_, &d, sizeof d);
  const std::uint32_t len = std::uint32_t{d.len8} * 8;
  const std::uint32_t off = std::uint32_t{d.offset8} * 8;
  if (off < kDescriptorBytes) {
    return Err(fail(fmt::format("offset8 {} is inside the descriptor", d.offset8)));
  }
  if (len < off) {
    return Err(fail(fmt::format("len8 {} is below offset8 {}", d.len8, d.offset8)));
  }
  if (len > max_packet_) {
    return Err(fail(fmt::format("packet of {} bytes exceeds the {}-byte cap", len,
                                          max_packet_)));
  }
  if (std::uint64_t{len} + kTrailerBytes > avail) {
    return Err(fail(fmt::format("packet of {} bytes plus trailer exceeds the {} bytes "
                                          "available", len, avail)));
  }
  // Copy the whole packet to private memory, then put the validated
  // descriptor over the copy: the guest may have changed it in between.
  detail::copy_from_ring(r_, priv_read_, buf_.data(), len);
  std::memcpy(buf_.data(), &d, sizeof d);
  // The trailer (start offset << 32) is informational; like Linux, not checked.
  priv_read_ = detail::ring_advance(priv_read_, std::uint64_t{len} + kTrailerBytes, r_.data_size);
  return PacketView{d, std::span<const std::byte>(buf_.data(), len)};
}

std::uint32_t RingReader::uncommitted_bytes() const {
  return ring_distance(published_read_, priv_read_, r_.data_size);
}

Result<bool, Corrupt> RingReader::commit_read() {
  if (broken_) return Err(Corrupt{reason_});
  if (priv_read_ == published_read_) return false;
  const std::uint32_t start = published_read_;
  // [B] store-release: our copies of the packets are done before the guest
  // may reuse the space. [D] full barrier: ordered before the
  // pending_send_sz load below.
  field(r_, Field::kReadIndex).store(priv_read_, kFullBarrier);
  published_read_ = priv_read_;

  // The guest sets this bit in its guest-to-host ring if it will set
  // pending_send_sz when blocked and wait for our signal.
  const std::uint32_t features = field(r_, Field::kFeatureBits).load(std::memory_order_relaxed);
  if ((features & wire::kFeatPendingSendSz) == 0) return false;
  const std::uint32_t pending = field(r_, Field::kPendingSendSz).load(kFullBarrier);  // [D]
  if (pending == 0) return false;
  auto w = load_write_index("commit_read");  // [A], after pending_send_sz ([D])
  if (!w.ok()) return Err(std::move(w.error()));
  const std::uint32_t bytes_read = ring_distance(start, priv_read_, r_.data_size);
  const std::uint32_t in_use_before = ring_distance(start, *w, r_.data_size);
  if (in_use_before < bytes_read) {
    return Err(fail(fmt::format("write index {:#x} moved behind consumed bytes [{:#x}, {:#x})", *w,
                                start, priv_read_)));
  }
  const std::uint32_t free_before = r_.data_size - in_use_before;
  const std::uint32_t free_now = r_.data_size - ring_distance(priv_read_, *w, r_.data_size);
  // Signal only on the transition from "not enough" to "enough". Exactly
  // pending_send_sz free is not enough: a writer needs strictly more.
  return free_before <= pending && free_now > pending;
}

void RingReader::begin_drain() {
  // [C] no ordering needed to set the mask: a guest that misses it only
  // sends one interrupt too many.
  field(r_, Field::kInterruptMask).store(1, std::memory_order_relaxed);
}

Result<bool, Corrupt> RingReader::end_drain() {
  if (broken_) return Err(Corrupt{reason_});
  // [C] full barrier: the mask store is ordered before the write_index load.
  field(r_, Field::kInterruptMask).store(0, kFullBarrier);
  auto w = load_write_index("end_drain");  // [A]
  if (!w.ok()) return Err(std::move(w.error()));
  return *w != priv_read_;
}

// ---- RingWriter ----

RingWriter::RingWriter(RingRegion region) : r_(region) {
  // The host owns write_index; loaded once, then the private copy is the truth.
  const std::uint32_t w = field(r_, Field::kWriteIndex).load(std::memory_order_relaxed);
  if (!valid_index(w, r_.data_size)) {
    fail(fmt::format("initial write index {:#x} invalid for a {:#x}-byte ring", w, r_.data_size));
    return;
  }
  priv_write_ = published_write_ = w;
}

Corrupt RingWriter::fail(std::string reason) {
  if (!broken_) {
    broken_ = true;
    reason_ = std::move(reason);
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "vmbus: host-to-guest ring corrupt: {}", reason_);
  }
  return Corrupt{reason_};
}

Result<std::uint32_t, Corrupt> RingWriter::free_bytes(const char* where) {
  // [B] load-acquire: the guest finished reading below this index (seq_cst:
  // it is also the second half of [D] in request_space; on x86 the same load).
  const std::uint32_t rd = field(r_, Field::kReadIndex).load(kFullBarrier);
  if (!valid_index(rd, r_.data_size)) {
    return Err(fail(fmt::format("{}: read index {:#x} invalid for a {:#x}-byte ring", where, rd,
                                r_.data_size)));
  }
  const std::uint32_t used = ring_distance(rd, priv_write_, r_.data_size);
  const std::uint32_t unpublished = ring_distance(published_write_, priv_write_, r_.data_size);
  if (used < unpublished) {
    return Err(fail(fmt::format("{}: read index {:#x} is inside bytes not yet published", where,
                                rd)));
  }
  return r_.data_size - used;
}

void RingWriter::copy_in(std::uint32_t pos, const void* src, std::uint32_t n) {
  detail::copy_to_ring(r_, pos, src, n);
}

Result<RingWriter::Room, WriteError> RingWriter::room_for(std::size_t payload_bytes, const char* where) {
  if (broken_) return Err(Corrupt{reason_});
  const std::uint64_t padded = (std::uint64_t{payload_bytes} + 7) / 8 * 8;
  const std::uint64_t len = kDescriptorBytes + padded;
  const std::uint64_t total = len + kTrailerBytes;
  if (len > kMaxLen8Bytes || total >= r_.data_size) {
    // Can never fit; bytes_needed >= the ring size says so.
    return Err(Full{static_cast<std::uint32_t>(std::min<std::uint64_t>(total, UINT32_MAX))});
  }
  auto free = free_bytes(where);
  if (!free.ok()) return Err(std::move(free.error()));
  if (*free <= total) return Err(Full{static_cast<std::uint32_t>(total)});
  return Room{static_cast<std::uint32_t>(len), static_cast<std::uint32_t>(total), *free};
}

Result<void, WriteError> RingWriter::write(wire::PacketType type, std::uint16_t flags,
                                           std::uint64_t trans_id,
                                           std::span<const std::byte> payload) {
  auto room = room_for(payload.size(), "write");
  if (!room.ok()) return Err(std::move(room.error()));
  const std::uint32_t len = room->len;
  const std::uint32_t start = priv_write_;
  const wire::VmpacketDescriptor d{static_cast<std::uint16_t>(type),
                                   static_cast<std::uint16_t>(kDescriptorBytes / 8),
                                   static_cast<std::uint16_t>(len / 8), flags, trans_id};
  std::uint32_t pos = start;
  copy_in(pos, &d, sizeof d);
  pos = detail::ring_advance(pos, sizeof d, r_.data_size);
  copy_in(pos, payload.data(), static_cast<std::uint32_t>(payload.size()));
  pos = detail::ring_advance(pos, payload.size(), r_.data_size);
  static constexpr std::array<std::byte, 8> kZeros{};
  const auto pad = static_cast<std::uint32_t>(len - kDescriptorBytes - payload.size());
  copy_in(pos, kZeros.data(), pad);
  pos = detail::ring_advance(pos, pad, r_.data_size);
  const std::uint64_t trailer = std::uint64_t{start} << 32;
  copy_in(pos, &trailer, sizeof trailer);
  priv_write_ = detail::ring_advance(pos, sizeof trailer, r_.data_size);
  return {};
}

Result<std::uint32_t, WriteError> RingWriter::write_copies(wire::PacketType type,
                                                           std::uint16_t flags,
                                                           std::uint64_t first_trans_id,
                                                           std::uint32_t max_count,
                                                           std::span<const std::byte> payload) {
  auto room = room_for(payload.size(), "write_copies");
  if (!room.ok()) return Err(std::move(room.error()));
  const auto [len, total, free] = *room;
  if (max_count == 0) return std::uint32_t{0};
  // Strictly more free bytes than the copies take: a full ring must not look empty.
  const std::uint32_t n = std::min(max_count, (free - 1) / total);

  // The packet as write() lays it out; assign() zeroes the padding.
  template_.assign(total, std::byte{0});
  const wire::VmpacketDescriptor d{static_cast<std::uint16_t>(type),
                                   static_cast<std::uint16_t>(kDescriptorBytes / 8),
                                   static_cast<std::uint16_t>(len / 8), flags, first_trans_id};
  if (!payload.empty()) std::memcpy(template_.data() + kDescriptorBytes, payload.data(), payload.size());
  constexpr std::size_t kIdOffset = offsetof(wire::VmpacketDescriptor, trans_id);
  std::memcpy(template_.data(), &d, sizeof d);
  std::uint32_t pos = priv_write_;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint64_t id = first_trans_id + i;
    const std::uint64_t trailer = std::uint64_t{pos} << 32;
    std::memcpy(template_.data() + kIdOffset, &id, sizeof id);
    std::memcpy(template_.data() + len, &trailer, sizeof trailer);
    copy_in(pos, template_.data(), total);  // splits at the wrap
    pos = detail::ring_advance(pos, total, r_.data_size);
  }
  priv_write_ = pos;
  return n;
}

Result<std::uint32_t, Corrupt> RingWriter::unread_bytes() {
  if (broken_) return Err(Corrupt{reason_});
  auto free = free_bytes("unread_bytes");  // [B]
  if (!free.ok()) return Err(std::move(free.error()));
  // In use = unread published bytes + what is written and not yet published.
  return r_.data_size - *free - ring_distance(published_write_, priv_write_, r_.data_size);
}

Result<bool, Corrupt> RingWriter::commit_write() {
  if (broken_) return Err(Corrupt{reason_});
  if (priv_write_ == published_write_) return false;
  const std::uint32_t old_write = published_write_;
  // [A] store-release: the packet bytes are visible before the index.
  // [C] full barrier: the store is ordered before the mask load.
  field(r_, Field::kWriteIndex).store(priv_write_, kFullBarrier);
  published_write_ = priv_write_;
  // [C] the mask is read before read_index.
  if (field(r_, Field::kInterruptMask).load(kFullBarrier) != 0) return false;
  const std::uint32_t rd = field(r_, Field::kReadIndex).load(kFullBarrier);  // [B]
  if (!valid_index(rd, r_.data_size)) {
    return Err(fail(fmt::format("commit_write: read index {:#x} invalid for a {:#x}-byte ring", rd,
                                r_.data_size)));
  }
  // The guest had consumed everything published before: the ring went from
  // empty to non-empty, and only that transition is signalled.
  return rd == old_write;
}

Result<bool, Corrupt> RingWriter::request_space(std::uint32_t bytes) {
  if (broken_) return Err(Corrupt{reason_});
  // [D] full barrier: pending_send_sz is visible before read_index is re-checked.
  field(r_, Field::kPendingSendSz).store(bytes, kFullBarrier);
  auto free = free_bytes("request_space");  // [B]
  if (!free.ok()) return Err(std::move(free.error()));
  return *free > bytes;
}

void RingWriter::clear_pending_send_size() {
  field(r_, Field::kPendingSendSz).store(0, std::memory_order_relaxed);  // [D]
}

Result<void, memory::MemoryError> read_gpa_range(const memory::GuestMemory& mem,
                                                 std::span<const std::uint64_t> pfns,
                                                 std::uint32_t byte_offset, std::uint32_t byte_count,
                                                 std::uint64_t offset, std::span<std::byte> out) {
  const auto end = memory::checked_add(offset, out.size());
  if (!end || *end > byte_count || byte_offset >= memory::kPageSize ||
      pfns.size() < wire::pages_spanned(byte_offset, byte_count)) {
    return Err(memory::MemoryError{memory::MemoryError::Kind::kBadRequest, memory::GuestAddress(0),
                                   out.size(), 0, 0,
                                   fmt::format("{} bytes at {} outside a {}-byte range", out.size(),
                                               offset, byte_count)});
  }
  std::vector<memory::Pfn> pages;
  pages.reserve(pfns.size());
  for (std::uint64_t p : pfns) pages.emplace_back(p);
  return mem.read_pages(pages, byte_offset + offset, out);
}

}  // namespace vscsim::ring

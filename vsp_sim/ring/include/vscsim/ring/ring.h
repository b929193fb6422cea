// The host side of a VMBus ring pair, over guest memory.
//
// A channel has two rings in one GPADL: the guest-to-host ring (pages
// [0, downstream_page_offset)) and the host-to-guest ring (the rest). Each
// ring is a 4 KiB header page (wire::RingBufferHeader) and a data area;
// write_index and read_index are byte offsets into the data area. A packet is
// a VmpacketDescriptor, the rest of its header and payload up to len8 * 8
// bytes, then a u64 trailer holding the packet's start offset << 32.
//
// RingReader consumes the guest-to-host ring; RingWriter produces into the
// host-to-guest ring. Both are two-phase: read()/write() move a private index;
// commit_read()/commit_write() publish it and say whether the guest needs a
// signal. The caller decides when to commit and signal, so a batch costs one
// interrupt. Neither class is thread-safe: one thread drives each.
//
// Don't trust guest data. Each index the guest owns is loaded once per
// decision into a local and validated (in range, 8-byte aligned, consistent
// with what the host already knows). Each packet descriptor is copied out once,
// validated, then the whole packet is copied into private memory and the
// validated descriptor is written over the copy's. A violation returns
// Corrupt{reason}, logs it rate-limited, and marks the ring broken: every
// later call fails with the same reason. Nothing is clamped silently.
//
// Memory ordering (the guest runs on other CPUs; these pairs are what make
// the shared header safe):
//
//  [A] Producer: stores packet bytes, then store-release write_index.
//      Consumer: load-acquire write_index, then loads packet bytes.
//      The consumer never sees an index before the bytes it covers.
//  [B] Consumer: loads packet bytes, then store-release read_index.
//      Producer: load-acquire read_index, then overwrites the freed bytes.
//      The producer never overwrites bytes the consumer is still copying.
//  [C] Producer, signal decision: store write_index; full fence; load
//      interrupt_mask, then read_index.
//      Consumer, leaving its drain loop: store interrupt_mask = 0; full fence;
//      load write_index.
//      Dekker pair: either the producer sees the mask cleared and signals, or
//      the consumer sees the new write_index and keeps reading. No lost wakeup.
//  [D] Consumer, flow-control decision: store read_index; full fence; load
//      pending_send_sz, then write_index.
//      Blocked producer: store pending_send_sz; full fence; load read_index
//      (re-check for space).
//      Dekker pair: either the consumer sees pending_send_sz and signals, or
//      the producer sees the freed space and does not sleep.
//
// "Full fence" is written as a seq_cst store followed by seq_cst loads (see
// kFullBarrier in src/shared_header.h for why). Every atomic access in ring.cc
// and test_guest.cc carries its letter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/memory/guest_memory.h"
#include "vscsim/wire/packet.h"
#include "vscsim/wire/ring_header.h"

namespace vscsim::ring {

// Expected outcomes.
struct Empty {};
struct Full {
  // Packet size including the 8-byte trailer. The ring must have strictly
  // more free bytes than this; pass it to request_space() to wait for it.
  std::uint32_t bytes_needed;
};
// The other side broke the protocol. The ring is now broken for good.
struct Corrupt {
  std::string reason;
};

using ReadError = std::variant<Empty, Corrupt>;
using WriteError = std::variant<Full, Corrupt>;

template <class E>
[[nodiscard]] bool is_corrupt(const E& e) {
  return std::holds_alternative<Corrupt>(e);
}

// One ring: its header page and data area, in host memory (a view of guest
// memory). Non-owning.
struct RingRegion {
  std::byte* header = nullptr;  // kRingHeaderBytes, 4 KiB aligned
  std::byte* data = nullptr;
  std::uint32_t data_size = 0;  // a multiple of 4 KiB
};

// Splits `pages` (header page, then data pages) into a RingRegion.
Result<RingRegion, std::string> ring_region(std::span<std::byte> pages);

// Both rings of a channel, mapped from the GPADL's page list.
struct MappedRingPair {
  memory::PageView view;  // keeps the mapping alive; regions point into it
  RingRegion guest_to_host;
  RingRegion host_to_guest;
};

// The ring header as the guest and host see it now, for people chasing a
// stall: "w=0x.. r=0x.. mask=N pend=N" (write and read index, interrupt
// mask, pending_send_sz).
std::string describe_header(const RingRegion& region);

// Maps a GPADL's pages as a ring pair: the guest-to-host ring is pages
// [0, downstream_page_offset), the host-to-guest ring the rest (OPENCHANNEL's
// downstream_ringbuffer_pageoffset). Each ring needs a header and >= 1 data page.
Result<MappedRingPair, std::string> map_ring_pair(const memory::GuestMemory& mem,
                                                  std::span<const memory::Pfn> gpadl_pages,
                                                  std::uint32_t downstream_page_offset);

// A packet read from the ring, in the reader's private memory. Valid until
// the next read() on the same reader.
struct PacketView {
  wire::VmpacketDescriptor descriptor;  // the validated copy
  std::span<const std::byte> bytes;     // the whole packet: descriptor .. len8 * 8

  [[nodiscard]] std::span<const std::byte> payload() const {
    return bytes.subspan(std::size_t{descriptor.offset8} * 8);
  }
};

struct ReaderLimits {
  // Largest packet (len8 * 8) accepted; larger ones are corrupt. 0: the ring size.
  std::uint32_t max_packet_bytes = 0;
};

// Host consumer of the guest-to-host ring.
class RingReader {
 public:
  // Loads the ring's read_index once; a bad one leaves the reader broken.
  explicit RingReader(RingRegion region, ReaderLimits limits = {});

  // Copies the next packet out and advances the private read index.
  Result<PacketView, ReadError> read();

  // Publishes the private read index. Returns true when the guest should be
  // signalled: it advertised feat_pending_send_sz, set pending_send_sz, and
  // the free space crossed it with this commit (was <= pending, now > pending).
  Result<bool, Corrupt> commit_read();
  // Bytes read since the last commit_read(): space the guest cannot reuse yet.
  [[nodiscard]] std::uint32_t uncommitted_bytes() const;
  [[nodiscard]] std::uint32_t data_size() const { return r_.data_size; }

  // Drain protocol: while draining, the interrupt mask tells the guest not to
  // signal. end_drain() clears it and returns true if data arrived meanwhile
  // (the caller must drain again: no signal will come for it). Call
  // commit_read() before end_drain(): the guest signals only a ring it finds
  // empty, judged by the published read index, so a packet written after an
  // unmask with reads still unpublished would get no signal at all.
  void begin_drain();
  Result<bool, Corrupt> end_drain();

  [[nodiscard]] bool broken() const { return broken_; }
  [[nodiscard]] const std::string& broken_reason() const { return reason_; }

 private:
  Corrupt fail(std::string reason);
  // Loads and validates write_index ([A]).
  Result<std::uint32_t, Corrupt> load_write_index(const char* where);

  RingRegion r_;
  std::uint32_t max_packet_;
  std::uint32_t priv_read_ = 0;       // where read() continues
  std::uint32_t published_read_ = 0;  // what the guest last saw
  // The guest's write index as last loaded (validated): read() loads it
  // again only once it has read up to it. The guest publishes whole packets,
  // so every value is a packet boundary; loading it once per batch instead of
  // once per packet saves a cache line taken from the guest's CPU each time.
  std::uint32_t known_write_ = 0;
  std::vector<std::byte> buf_;
  bool broken_ = false;
  std::string reason_;
};

// Host producer into the host-to-guest ring.
class RingWriter {
 public:
  // Loads the ring's write_index once; a bad one leaves the writer broken.
  explicit RingWriter(RingRegion region);

  // Writes one packet: descriptor (offset8 = 2, len8 from the payload padded
  // to 8 bytes), payload, zero padding, trailer. Full if the ring does not
  // have strictly more free space than the packet plus trailer.
  Result<void, WriteError> write(wire::PacketType type, std::uint16_t flags,
                                 std::uint64_t trans_id, std::span<const std::byte> payload);

  // Writes up to `max_count` copies of one packet, laid out as write() does,
  // the i-th with trans_id `first_trans_id + i`: as many as the ring has
  // room for (the strictly-more rule holds after the last). One free-space
  // check; the packet is prepared once and only its id and trailer change
  // from copy to copy. Returns how many were written (0 for max_count 0);
  // Full if not even one fits. Ids must not wrap past 2^64 - 1.
  Result<std::uint32_t, WriteError> write_copies(wire::PacketType type, std::uint16_t flags,
                                                 std::uint64_t first_trans_id,
                                                 std::uint32_t max_count,
                                                 std::span<const std::byte> payload);

  // Bytes published and not yet read by the guest (0: the guest has caught
  // up). A diagnostic: it moves as the guest reads.
  Result<std::uint32_t, Corrupt> unread_bytes();

  // Publishes the private write index. Returns true when the guest should be
  // signalled: it has not masked interrupts and had read everything published
  // before this commit (the ring was empty).
  Result<bool, Corrupt> commit_write();

  // Host-side flow control (the guest honours it when the host-to-guest ring
  // advertises feat_pending_send_sz): asks the guest to signal once more than
  // `bytes` are free. Returns true if that much is already free (then call
  // clear_pending_send_size() and write; no signal will come).
  Result<bool, Corrupt> request_space(std::uint32_t bytes);
  void clear_pending_send_size();

  [[nodiscard]] bool broken() const { return broken_; }
  [[nodiscard]] const std::string& broken_reason() const { return reason_; }

 private:
  Corrupt fail(std::string reason);
  // Loads and validates read_index ([B]); returns free bytes.
  Result<std::uint32_t, Corrupt> free_bytes(const char* where);
  void copy_in(std::uint32_t pos, const void* src, std::uint32_t n);
  // What write() and write_copies() check first: a packet of this payload
  // (its length, and with the trailer) fits in the free bytes now; else
  // Full (bytes_needed >= the ring size if it never can) or Corrupt.
  struct Room {
    std::uint32_t len;
    std::uint32_t total;
    std::uint32_t free;
  };
  Result<Room, WriteError> room_for(std::size_t payload_bytes, const char* where);

  RingRegion r_;
  std::vector<std::byte> template_;  // write_copies' prepared packet
  std::uint32_t priv_write_ = 0;
  std::uint32_t published_write_ = 0;
  bool broken_ = false;
  std::string reason_;
};

// Reads `out.size()` bytes at `offset` within a GPA-direct range from guest
// memory (the range's pages need not be contiguous).
Result<void, memory::MemoryError> read_gpa_range(const memory::GuestMemory& mem,
                                                 std::span<const std::uint64_t> pfns,
                                                 std::uint32_t byte_offset, std::uint32_t byte_count,
                                                 std::uint64_t offset, std::span<std::byte> out);

}  // namespace vscsim::ring

// The ivshmem BAR2 memory: a memfd the simulator creates, sends to each QEMU
// peer, and maps itself. Typed access to the header, the two mailboxes and the
// two event-flag bitmaps laid out in layout.h / docs/transport.md.
//
// The simulator never reads the header back from shared memory: it keeps its
// own copy of every layout value, so a guest scribbling on the header changes
// nothing on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vscsim/transport/layout.h"
#include "vscsim/transport/mailbox.h"
#include "vscsim/transport/unique_fd.h"

namespace vscsim::transport {

// One direction's bitmap: one bit per channel relid. Senders set bits with an
// atomic OR before ringing kVectorChannel; the receiver takes them with an
// atomic exchange of each 64-bit word. Safe to use from several threads.
class EventBitmap {
 public:
  static constexpr std::uint32_t kWords = layout::kEventBits / 64;

  EventBitmap() = default;
  explicit EventBitmap(std::byte* words) : words_(words) {}

  // Sets the bit for `relid` (seq_cst, so it is ordered before the doorbell
  // write that follows). Returns false if `relid` is out of range.
  [[nodiscard]] bool set(std::uint32_t relid);

  // Clears every set bit and returns the relids that were set, ascending.
  // Bounded: visits kWords words once.
  [[nodiscard]] std::vector<std::uint32_t> take_all();

  // Reads without clearing (for tests and diagnostics).
  [[nodiscard]] bool test(std::uint32_t relid) const;

 private:
  std::byte* words_ = nullptr;
};

class SharedRegion {
 public:
  // Creates a memfd of `size` bytes (a power of two between kMinRegionSize and
  // kMaxRegionSize) and writes a fresh header in state kInitialising. Throws
  // std::invalid_argument for a bad size, std::system_error if the kernel
  // refuses.
  static SharedRegion create(std::uint64_t size, std::uint16_t host_peer_id);

  SharedRegion(SharedRegion&&) noexcept;
  SharedRegion& operator=(SharedRegion&&) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();

  // The memfd to send to peers (still owned by the region).
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] std::byte* base() const { return base_; }
  [[nodiscard]] std::uint16_t host_peer_id() const { return host_peer_id_; }

  // Zeroes both mailboxes and bitmaps, records `guest_peer_id` (or
  // layout::kNoGuest), bumps the generation and sets state kRunning. Callers
  // must drop any MailboxProducer/Consumer made before: their private indices
  // are stale.
  void reset_for_guest(std::uint32_t guest_peer_id);

  void set_state(layout::HostState state);
  // Advances the heartbeat; call at least every layout::kHeartbeatPeriodMs.
  void beat();

  [[nodiscard]] std::uint32_t generation() const { return generation_; }

  [[nodiscard]] MailboxView host_to_guest() const;
  [[nodiscard]] MailboxView guest_to_host() const;
  [[nodiscard]] EventBitmap host_to_guest_events() const;
  [[nodiscard]] EventBitmap guest_to_host_events() const;
  [[nodiscard]] layout::RegionHeader* header() const;

 private:
  SharedRegion(UniqueFd fd, std::byte* base, std::uint64_t size, std::uint16_t host_peer_id);
  void write_header();

  UniqueFd fd_;
  std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint16_t host_peer_id_ = 0;
  std::uint32_t generation_ = 0;
  std::uint64_t heartbeat_ = 0;
};

}  // namespace vscsim::transport

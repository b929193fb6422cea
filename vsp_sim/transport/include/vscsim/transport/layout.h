// The layout of the ivshmem BAR2 region shared between the simulator and the
// guest transport module, version 1. docs/transport.md is the specification;
// this header is its C++ transcription and must change only together with it.
//
// Every field is little-endian and naturally aligned. The simulator is the
// only writer of the header; each index is written by exactly one side.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vscsim::transport::layout {

// "VSCSIMVB" as bytes in memory; read as a little-endian u64.
inline constexpr std::uint64_t kMagic = 0x42564d4953435356ULL;
inline constexpr std::uint32_t kLayoutVersion = 1;

// ivshmem vector numbers (the low bits of the Doorbell value, and the index of
// the eventfd a peer is signalled through).
inline constexpr std::uint16_t kVectorControl = 0;  // a mailbox has messages or space
inline constexpr std::uint16_t kVectorChannel = 1;  // an event-flag bitmap has bits set
inline constexpr std::uint16_t kVectorCount = 2;

// Hyper-V's SynIC message: 16-byte header + 240-byte payload. A slot mirrors it.
inline constexpr std::uint32_t kSlotSize = 256;
inline constexpr std::uint32_t kSlotHeaderSize = 16;
inline constexpr std::uint32_t kMaxPayload = kSlotSize - kSlotHeaderSize;  // 240
// A VMBus channel message starts with vmbus_channel_message_header (u32 msgtype,
// u32 padding), so a payload is never shorter than that.
inline constexpr std::uint32_t kMinPayload = 8;
inline constexpr std::uint32_t kSlotCount = 64;  // per direction, a power of two

// One bit per channel relid; Linux's MAX_CHANNEL_RELIDS is 2048 as well.
inline constexpr std::uint32_t kEventBits = 2048;
inline constexpr std::uint32_t kEventBytes = kEventBits / 8;

// Region offsets (bytes from the start of BAR2).
inline constexpr std::uint64_t kHeaderOffset = 0x0000;
inline constexpr std::uint32_t kHeaderSize = 0x1000;
inline constexpr std::uint64_t kH2gControlOffset = 0x1000;
inline constexpr std::uint64_t kG2hControlOffset = 0x1100;
inline constexpr std::uint64_t kH2gEventsOffset = 0x1200;
inline constexpr std::uint64_t kG2hEventsOffset = 0x1300;
inline constexpr std::uint64_t kH2gSlotsOffset = 0x2000;
inline constexpr std::uint64_t kG2hSlotsOffset = kH2gSlotsOffset + std::uint64_t{kSlotCount} * kSlotSize;
inline constexpr std::uint64_t kLayoutEnd = kG2hSlotsOffset + std::uint64_t{kSlotCount} * kSlotSize;

// BAR2 must be a power of two (a PCI BAR); 64 KiB holds the layout above.
inline constexpr std::uint64_t kMinRegionSize = 64 * 1024;
inline constexpr std::uint64_t kMaxRegionSize = 16 * 1024 * 1024;
inline constexpr std::uint64_t kDefaultRegionSize = kMinRegionSize;

// Values of RegionHeader::host_state.
enum class HostState : std::uint32_t {
  kInitialising = 0,  // the simulator is (re)building the region: do not touch it
  kRunning = 1,       // serving; heartbeat advances at least every kHeartbeatPeriodMs
  kStopped = 2,       // the simulator shut down cleanly; it will not come back
};
inline constexpr std::uint32_t kHeartbeatPeriodMs = 100;
// A guest declares the host gone when the heartbeat has not moved for this long.
inline constexpr std::uint32_t kHeartbeatTimeoutMs = 2000;

inline constexpr std::uint32_t kNoGuest = 0xffffffffU;

struct RegionHeader {
  std::uint64_t magic;               // 0x00 kMagic
  std::uint32_t layout_version;      // 0x08 kLayoutVersion
  std::uint32_t header_size;         // 0x0c kHeaderSize
  std::uint64_t region_size;         // 0x10 size of BAR2 in bytes
  std::uint32_t host_peer_id;        // 0x18 ivshmem id to ring the simulator
  std::uint32_t guest_peer_id;       // 0x1c the one guest the mailboxes serve, or kNoGuest
  std::uint32_t vectors;             // 0x20 kVectorCount
  std::uint32_t slot_size;           // 0x24 kSlotSize
  std::uint32_t slot_count;          // 0x28 kSlotCount (per direction)
  std::uint32_t event_bits;          // 0x2c kEventBits (per direction)
  std::uint64_t h2g_control_offset;  // 0x30
  std::uint64_t g2h_control_offset;  // 0x38
  std::uint64_t h2g_slots_offset;    // 0x40
  std::uint64_t g2h_slots_offset;    // 0x48
  std::uint64_t h2g_events_offset;   // 0x50
  std::uint64_t g2h_events_offset;   // 0x58
  std::uint8_t reserved0[0x20];      // 0x60
  std::uint32_t host_state;          // 0x80 HostState
  std::uint32_t generation;          // 0x84 +1 each time the simulator resets the region
  std::uint64_t heartbeat;           // 0x88 advanced by the simulator while kRunning
};
static_assert(sizeof(RegionHeader) == 0x90);

// One direction's indices. Each word sits in its own 64-byte cache line.
struct MailboxControl {
  std::uint32_t head;  // written by the producer only: messages posted, mod 2^32
  std::uint8_t pad0[60];
  std::uint32_t tail;  // written by the consumer only: messages consumed, mod 2^32
  std::uint8_t pad1[60];
  std::uint32_t producer_waiting;  // producer sets 1 when full; consumer exchanges to 0
  std::uint8_t pad2[60];
  std::uint8_t reserved[64];
};
static_assert(sizeof(MailboxControl) == 256);

struct SlotHeader {
  std::uint32_t size;   // payload bytes, kMinPayload..kMaxPayload
  std::uint32_t index;  // the head value this slot was posted at
  std::uint64_t reserved;  // zero
};
static_assert(sizeof(SlotHeader) == kSlotHeaderSize);

static_assert((kSlotCount & (kSlotCount - 1)) == 0);
static_assert(kH2gControlOffset + sizeof(MailboxControl) <= kG2hControlOffset);
static_assert(kG2hControlOffset + sizeof(MailboxControl) <= kH2gEventsOffset);
static_assert(kH2gEventsOffset + kEventBytes <= kG2hEventsOffset);
static_assert(kG2hEventsOffset + kEventBytes <= kH2gSlotsOffset);
static_assert(kLayoutEnd <= kMinRegionSize);

}  // namespace vscsim::transport::layout

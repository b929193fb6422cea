// The shared header page at the start of every VMBus ring buffer
// (struct hv_ring_buffer in include/linux/hyperv.h). One 4 KiB page; the data
// area follows it, and write_index/read_index are byte offsets into the data
// area.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vscsim/wire/endian.h"

namespace vscsim::wire {

inline constexpr std::size_t kRingHeaderBytes = 4096;

// feature_bits.feat_pending_send_sz: the owner of this ring's producer side
// will set pending_send_sz when blocked and expects a signal when space frees.
inline constexpr std::uint32_t kFeatPendingSendSz = 1u << 0;

// The kernel marks this __packed; every field is a naturally aligned u32, so
// the natural layout is the same (asserted below), and natural alignment is
// what std::atomic_ref needs for the index fields.
struct RingBufferHeader {
  std::uint32_t write_index;
  std::uint32_t read_index;
  std::uint32_t interrupt_mask;
  std::uint32_t pending_send_sz;
  std::uint32_t reserved1[12];
  std::uint32_t feature_bits;
  std::uint8_t reserved2[kRingHeaderBytes - 68];
};

static_assert(sizeof(RingBufferHeader) == kRingHeaderBytes);
static_assert(offsetof(RingBufferHeader, write_index) == 0);
static_assert(offsetof(RingBufferHeader, read_index) == 4);
static_assert(offsetof(RingBufferHeader, interrupt_mask) == 8);
static_assert(offsetof(RingBufferHeader, pending_send_sz) == 12);
static_assert(offsetof(RingBufferHeader, reserved1) == 16);
static_assert(offsetof(RingBufferHeader, feature_bits) == 64);
static_assert(offsetof(RingBufferHeader, reserved2) == 68);

}  // namespace vscsim::wire

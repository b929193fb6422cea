// Private to the ring library: atomic access to the shared ring header fields
// and ring-offset arithmetic, used by both the host side (ring.cc) and the
// test guest (test_guest.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vscsim/ring/ring.h"
#include "vscsim/wire/ring_header.h"

namespace vscsim::ring::detail {

enum class Field : std::size_t {
  kWriteIndex = offsetof(wire::RingBufferHeader, write_index),
  kReadIndex = offsetof(wire::RingBufferHeader, read_index),
  kInterruptMask = offsetof(wire::RingBufferHeader, interrupt_mask),
  kPendingSendSz = offsetof(wire::RingBufferHeader, pending_send_sz),
  kFeatureBits = offsetof(wire::RingBufferHeader, feature_bits),
};

// The header page is shared with the guest: every access goes through an
// atomic_ref (the field is a naturally aligned u32 in a page-aligned page).
inline std::atomic_ref<std::uint32_t> field(const RingRegion& r, Field f) {
  return std::atomic_ref<std::uint32_t>(
      *reinterpret_cast<std::uint32_t*>(r.header + static_cast<std::size_t>(f)));
}

// The [C] and [D] pairs need "store; full fence; load" on both sides. They are
// written as a seq_cst store followed by seq_cst loads instead of a fence:
// the same guarantee in the C++ model (every access of the pair is in the
// single total order), the same code on x86-64 (the store becomes an xchg, a
// full barrier, matching the guest's smp_mb()), and a form ThreadSanitizer
// checks (it does not model atomic_thread_fence; GCC refuses to build one
// under -fsanitize=thread).
inline constexpr std::memory_order kFullBarrier = std::memory_order_seq_cst;

// Bytes from `from` forward to `to` in a ring of `size` bytes (both < size).
inline std::uint32_t ring_distance(std::uint32_t from, std::uint32_t to, std::uint32_t size) {
  return to >= from ? to - from : size - from + to;
}

inline std::uint32_t ring_advance(std::uint32_t pos, std::uint64_t n, std::uint32_t size) {
  return static_cast<std::uint32_t>((std::uint64_t{pos} + n) % size);
}

inline bool valid_index(std::uint32_t index, std::uint32_t size) {
  return index < size && index % 8 == 0;
}

// Copies between the data area and host memory, splitting at the wrap.
inline void copy_from_ring(const RingRegion& r, std::uint32_t pos, void* dst, std::size_t n) {
  if (n == 0) return;
  const std::size_t first = std::min<std::size_t>(n, r.data_size - pos);
  std::memcpy(dst, r.data + pos, first);
  if (n > first) std::memcpy(static_cast<std::byte*>(dst) + first, r.data, n - first);
}
inline void copy_to_ring(const RingRegion& r, std::uint32_t pos, const void* src, std::size_t n) {
  if (n == 0) return;
  const std::size_t first = std::min<std::size_t>(n, r.data_size - pos);
  std::memcpy(r.data + pos, src, first);
  if (n > first) std::memcpy(r.data, static_cast<const std::byte*>(src) + first, n - first);
}

}  // namespace vscsim::ring::detail

// Fuzzes the host's ring reader with a guest that writes anything: the first
// bytes of the input become the ring header (indices, mask, pending size,
// features), the rest the data area. The reader must never crash or read out
// of bounds, and every packet it accepts must be well formed; once it reports
// corruption it must stay broken.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vscsim/ring/ring.h"
#include "vscsim/wire/ring_header.h"

using namespace vscsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kHeaderFields = 21;  // write, read, mask, pending, features, mode
  constexpr std::uint32_t kDataSize = 2 * 4096;
  if (size < kHeaderFields) return 0;

  // Page-aligned like guest memory.
  auto* header = static_cast<std::byte*>(std::aligned_alloc(4096, wire::kRingHeaderBytes));
  auto* area = static_cast<std::byte*>(std::aligned_alloc(4096, kDataSize));
  std::memset(header, 0, wire::kRingHeaderBytes);
  std::memset(area, 0, kDataSize);
  auto* h = reinterpret_cast<wire::RingBufferHeader*>(header);
  std::memcpy(&h->write_index, data + 0, 4);
  std::memcpy(&h->read_index, data + 4, 4);
  std::memcpy(&h->interrupt_mask, data + 8, 4);
  std::memcpy(&h->pending_send_sz, data + 12, 4);
  std::memcpy(&h->feature_bits, data + 16, 4);
  // In-range indices reach the packet checks; raw ones test index validation.
  const bool fold_indices = (data[20] & 1) == 0;
  if (fold_indices) {
    h->write_index %= kDataSize;
    h->read_index %= kDataSize;
  }
  std::memcpy(area, data + kHeaderFields, std::min<std::size_t>(size - kHeaderFields, kDataSize));

  ring::RingReader reader({header, area, kDataSize}, {});
  bool was_broken = reader.broken();
  for (int i = 0; i < 64; ++i) {  // bounded: a ring this size holds at most 512 packets
    auto r = reader.read();
    if (r.ok()) {
      const auto& p = r.value();
      if (was_broken) std::abort();  // broken is sticky
      if (p.bytes.size() != std::size_t{p.descriptor.len8} * 8) std::abort();
      if (std::size_t{p.descriptor.offset8} * 8 < sizeof(wire::VmpacketDescriptor)) std::abort();
      if (p.descriptor.offset8 > p.descriptor.len8) std::abort();
      if (p.bytes.size() >= kDataSize) std::abort();
      continue;
    }
    if (ring::is_corrupt(r.error())) {
      if (!reader.broken()) std::abort();
      was_broken = true;
    } else if (was_broken) {
      std::abort();  // a broken ring never reports "empty" again
    }
    if ((i & 3) == 3 || !r.ok()) {
      auto c = reader.commit_read();
      if (!c.ok() && !reader.broken()) std::abort();
    }
    if (!r.ok()) break;
  }
  std::free(header);
  std::free(area);
  return 0;
}

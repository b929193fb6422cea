// Fuzzes the parsers of guest-written bytes in vscsim_wire: channel messages
// and GPA-direct packets. Whatever the input, parsing must not read outside
// it, and what it accepts must satisfy the rules it claims to check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "vscsim/wire/parse.h"

using namespace vscsim::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  if (auto type = check_channel_message(bytes); type.ok()) {
    const auto fixed = channel_message_size(type.value());
    if (!fixed || size < *fixed || size > kMaxMessagePayload) std::abort();
  }

  const GpaDirectLimits limits{4, 64};
  if (auto pkt = parse_gpa_direct(bytes, limits); pkt.ok()) {
    const auto& p = pkt.value();
    if (p.ranges.empty() || p.ranges.size() > limits.max_ranges) std::abort();
    std::uint64_t pages = 0;
    for (const auto& r : p.ranges) {
      if (r.byte_count == 0 || r.byte_offset >= 4096) std::abort();
      const std::uint64_t spanned = (std::uint64_t{r.byte_offset} + r.byte_count + 4095) / 4096;
      if (r.pfns.size() != spanned) std::abort();
      pages += spanned;
    }
    if (pages > limits.max_total_pages) std::abort();
    // The payload must lie inside the input.
    const auto* begin = reinterpret_cast<const std::byte*>(data);
    if (!p.payload.empty() && (p.payload.data() < begin || p.payload.data() + p.payload.size() > begin + size)) {
      std::abort();
    }
  }
  return 0;
}

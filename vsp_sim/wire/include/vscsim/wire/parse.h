// Parsing untrusted bytes into wire structs.
//
// Don't trust guest data: every helper here takes a span of bytes the guest
// wrote (already copied into host memory), never reads outside it, and
// returns a Result. Counts are capped; sizes are computed in 64 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/wire/channel_messages.h"
#include "vscsim/wire/packet.h"

namespace vscsim::wire {

struct ParseError {
  std::string reason;
};

// Copies a T out of the front of `bytes`; fails if there are fewer than sizeof(T).
template <class T>
  requires std::is_trivially_copyable_v<T>
Result<T, ParseError> parse_struct(std::span<const std::byte> bytes) {
  if (bytes.size() < sizeof(T)) {
    return Err(ParseError{"need " + std::to_string(sizeof(T)) + " bytes, have " +
                          std::to_string(bytes.size())});
  }
  T out;
  std::memcpy(&out, bytes.data(), sizeof(T));
  return out;
}

// Size of the fixed part of a channel message of this type; nullopt for types
// this simulator does not know.
[[nodiscard]] std::optional<std::size_t> channel_message_size(ChannelMessageType type);

// Checks a whole channel message: at most kMaxMessagePayload bytes, a known
// type, at least the fixed size of that type. Returns the type.
Result<ChannelMessageType, ParseError> check_channel_message(std::span<const std::byte> bytes);

// Caps for GPA-direct packets. The defaults fit the Azure Blob VSC (at most
// 8192 pages per request) and storvsc; a device may tighten them.
struct GpaDirectLimits {
  std::uint32_t max_ranges = 32;
  std::uint64_t max_total_pages = 8192 + 2;
};

struct ParsedGpaRange {
  std::uint32_t byte_count;
  std::uint32_t byte_offset;         // into the first page, < 4096
  std::vector<std::uint64_t> pfns;   // exactly pages_spanned(byte_offset, byte_count) entries
};

struct GpaDirectPacket {
  VmpacketDescriptor descriptor;
  std::vector<ParsedGpaRange> ranges;
  std::span<const std::byte> payload;  // the in-band bytes after the range list (into `packet`)
};

// Parses a VM_PKT_DATA_USING_GPA_DIRECT packet. `packet` is the whole packet
// (descriptor to len8 * 8, trailer excluded) as copied out of the ring. The
// range list must lie inside the header (before offset8 * 8); each range must
// have byte_count > 0, byte_offset < 4096; the range count must be 1..cap and
// the total page count under the cap.
Result<GpaDirectPacket, ParseError> parse_gpa_direct(std::span<const std::byte> packet,
                                                     const GpaDirectLimits& limits = {});

}  // namespace vscsim::wire

// The guest's side of the GPADL encoding: a page list split into one
// GPADL_HEADER and as many GPADL_BODY messages as it needs, the way Linux's
// create_gpadl_header() splits it (26 pfns in the header, 28 per body, bodies
// unnumbered), generalised to several ranges. Used by test guests, and by
// tests and fault plans that start from a valid encoding and break one field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vscsim/memory/address.h"

namespace vscsim::gpadl {

struct EncodeRange {
  std::uint32_t byte_offset;
  std::uint32_t byte_count;
  std::vector<memory::Pfn> pfns;
};

struct EncodeOptions {
  // 8-byte slots per message after the fixed part. Defaults fill 240-byte
  // messages: (240 - 20) / 8 = 27 slots (one range header + 26 pfns) in the
  // header, (240 - 16) / 8 = 28 pfns per body.
  std::uint32_t header_slots = 27;
  std::uint32_t body_slots = 28;
  // false: every msgnumber 0 (Linux). true: bodies numbered 1, 2, 3, ...
  bool number_bodies = false;
};

using Message = std::vector<std::byte>;

// Header first, then the bodies in order. range_buflen is the exact slot
// count * 8 (truncated to 16 bits: callers that want a valid GPADL keep the
// total under 8190 pages).
std::vector<Message> encode_gpadl(std::uint32_t child_relid, std::uint32_t handle,
                                  std::span<const EncodeRange> ranges,
                                  const EncodeOptions& options = {});

// One whole-page range over `pfns` (a ring or page buffer, as Linux sends it).
std::vector<Message> encode_gpadl_pages(std::uint32_t child_relid, std::uint32_t handle,
                                        std::span<const memory::Pfn> pfns,
                                        const EncodeOptions& options = {});

}  // namespace vscsim::gpadl

// Turning page lists into guest address spans, and a ring GPADL into its two
// rings.
//
// A GPA-direct range in a packet (and a GPADL range) names bytes as: a page
// list, the byte offset of the first byte in the first page, and a length.
// resolve_spans() turns a window of those bytes into the guest-physical spans
// that hold them (physically adjacent pages merged), so a device model can
// read or write them through memory::GuestMemory. Bounded: one step per page,
// and the page list is capped by the caller's limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/gpadl/gpadl.h"
#include "vscsim/memory/address.h"
#include "vscsim/memory/layout.h"

namespace vscsim::gpadl {

// byte_count bytes starting byte_offset into pfns[0]; the pages continue in
// pfns[1], pfns[2], ... Non-owning.
struct PageRange {
  std::span<const memory::Pfn> pfns;
  std::uint32_t byte_offset;
  std::uint64_t byte_count;
};

// One contiguous piece of guest physical memory.
struct GuestSpan {
  memory::GuestAddress gpa;
  std::uint64_t length;
  friend bool operator==(const GuestSpan&, const GuestSpan&) = default;
};

struct RangeError {
  enum class Kind {
    kEmptyPageList,
    kTooManyPages,     // the page list is longer than the cap
    kOffsetOutOfPage,  // byte_offset >= 4096
    kPagesMismatch,    // pfns.size() != pages spanned by byte_offset + byte_count
    kWindowOutOfRange, // [window_offset, window_offset + window_length) past byte_count
    kNotRam,           // a page of the window is not guest RAM
  };
  Kind kind;
  std::string detail;
};

// The spans holding bytes [window_offset, window_offset + window_length) of
// `range`. Checks the range's shape (pages spanned match the list exactly) and
// that every page the window touches is RAM. window_length 0 gives no spans.
Result<std::vector<GuestSpan>, RangeError> resolve_spans(const PageRange& range,
                                                         std::uint64_t window_offset,
                                                         std::uint64_t window_length,
                                                         const memory::MemoryLayout& layout,
                                                         std::size_t max_pages = 8192 + 2);

// A channel's ring GPADL split as OPENCHANNEL's
// downstream_ringbuffer_pageoffset says: pages [0, offset) are the
// guest-to-host ring (header page + data), pages [offset, end) the
// host-to-guest ring. Each ring needs its header page and at least one data
// page, and the GPADL must be whole pages (one range, byte_offset 0).
struct RingSplit {
  std::span<const memory::Pfn> guest_to_host;
  std::span<const memory::Pfn> host_to_guest;
};
Result<RingSplit, std::string> split_ring(const Gpadl& gpadl,
                                          std::uint32_t downstream_page_offset);

}  // namespace vscsim::gpadl

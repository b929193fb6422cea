#include "vscsim/gpadl/range.h"

#include <fmt/core.h>

#include "vscsim/wire/packet.h"

namespace vscsim::gpadl {

Result<std::vector<GuestSpan>, RangeError> resolve_spans(const PageRange& range,
                                                         std::uint64_t window_offset,
                                                         std::uint64_t window_length,
                                                         const memory::MemoryLayout& layout,
                                                         std::size_t max_pages) {
  using K = RangeError::Kind;
  if (range.pfns.empty()) return Err(RangeError{K::kEmptyPageList, "no pages"});
  if (range.pfns.size() > max_pages) {
    return Err(RangeError{K::kTooManyPages,
                          fmt::format("{} pages, cap {}", range.pfns.size(), max_pages)});
  }
  if (range.byte_offset >= memory::kPageSize) {
    return Err(RangeError{K::kOffsetOutOfPage, fmt::format("byte_offset {}", range.byte_offset)});
  }
  // Pages spanned, in 64 bits; byte_count may be any u64 here, so guard the sum first.
  if (range.byte_count > UINT64_MAX - 2 * memory::kPageSize) {
    return Err(RangeError{K::kPagesMismatch, fmt::format("byte_count {}", range.byte_count)});
  }
  const std::uint64_t spanned =
      (range.byte_offset + range.byte_count + memory::kPageSize - 1) / memory::kPageSize;
  if (range.byte_count == 0 || spanned != range.pfns.size()) {
    return Err(RangeError{K::kPagesMismatch,
                          fmt::format("{} bytes at offset {} span {} pages, list has {}",
                                      range.byte_count, range.byte_offset, spanned,
                                      range.pfns.size())});
  }
  if (window_offset > range.byte_count || window_length > range.byte_count - window_offset) {
    return Err(RangeError{K::kWindowOutOfRange,
                          fmt::format("window [{}, +{}) outside {} bytes", window_offset,
                                      window_length, range.byte_count)});
  }
  std::vector<GuestSpan> spans;
  std::uint64_t pos = range.byte_offset + window_offset;  // offset into the concatenated pages
  std::uint64_t left = window_length;
  // Bounded: one step per page, and pfns.size() <= max_pages.
  while (left > 0) {
    const std::size_t page = pos / memory::kPageSize;
    const std::uint64_t in_page = pos % memory::kPageSize;
    const memory::Pfn pfn = range.pfns[page];
    if (!page_is_ram(pfn, layout)) {
      return Err(RangeError{K::kNotRam, fmt::format("page {} (pfn {:#x}) is not guest RAM", page,
                                                    pfn.value())});
    }
    const std::uint64_t chunk = std::min(left, memory::kPageSize - in_page);
    const memory::GuestAddress gpa(pfn.address()->value() + in_page);
    // Merge with the previous span when physically adjacent and in the same
    // RAM region (the file mapping is contiguous there too).
    if (!spans.empty()) {
      GuestSpan& last = spans.back();
      const auto end = last.gpa.checked_add(last.length);
      const auto t = layout.translate(last.gpa);
      if (end && *end == gpa && t && t->contiguous >= last.length + chunk) {
        last.length += chunk;
        pos += chunk;
        left -= chunk;
        continue;
      }
    }
    spans.push_back(GuestSpan{gpa, chunk});
    pos += chunk;
    left -= chunk;
  }
  return spans;
}

Result<RingSplit, std::string> split_ring(const Gpadl& gpadl,
                                          std::uint32_t downstream_page_offset) {
  if (!gpadl.is_whole_pages()) {
    return Err(fmt::format("GPADL {:#x} is not one whole-page range", gpadl.handle()));
  }
  const std::size_t pages = gpadl.page_count();
  if (downstream_page_offset < 2 || pages < std::size_t{downstream_page_offset} + 2) {
    return Err(fmt::format("downstream page offset {} does not leave two rings (header + data) "
                           "in {} pages",
                           downstream_page_offset, pages));
  }
  const auto pfns = gpadl.pfns();
  return RingSplit{pfns.first(downstream_page_offset), pfns.subspan(downstream_page_offset)};
}

}  // namespace vscsim::gpadl

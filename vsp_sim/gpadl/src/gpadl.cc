#include "vscsim/gpadl/gpadl.h"

#include <fmt/core.h>

#include <cstring>
#include <ostream>

#include "vscsim/wire/packet.h"
#include "vscsim/wire/parse.h"

namespace vscsim::gpadl {

namespace {
constexpr std::uint64_t kSlot = 8;
}  // namespace

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kShortMessage: return "short message";
    case ErrorKind::kMessageOverCap: return "message over cap";
    case ErrorKind::kMisalignedPayload: return "misaligned payload";
    case ErrorKind::kHandleZero: return "handle zero";
    case ErrorKind::kRangeCountZero: return "range count zero";
    case ErrorKind::kRangeCountOverCap: return "range count over cap";
    case ErrorKind::kRangeBufLenInconsistent: return "range_buflen inconsistent";
    case ErrorKind::kPageCountOverCap: return "page count over cap";
    case ErrorKind::kByteCountZero: return "byte_count zero";
    case ErrorKind::kByteOffsetOutOfPage: return "byte_offset out of page";
    case ErrorKind::kRangePageMismatch: return "range page mismatch";
    case ErrorKind::kPfnNotRam: return "pfn not RAM";
    case ErrorKind::kHandleInUse: return "handle in use";
    case ErrorKind::kTableFull: return "table full";
    case ErrorKind::kUnknownGpadl: return "unknown gpadl";
    case ErrorKind::kGpadlAlreadyComplete: return "gpadl already complete";
    case ErrorKind::kBodyOutOfSequence: return "body out of sequence";
    case ErrorKind::kBodyTooLong: return "body too long";
    case ErrorKind::kAlreadyTearingDown: return "already tearing down";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ErrorKind kind) { return os << error_kind_name(kind); }

std::string Error::describe() const {
  return fmt::format("gpadl {:#x}: {}: {}", handle, error_kind_name(kind), detail);
}

bool Gpadl::is_whole_pages() const {
  return ranges_.size() == 1 && ranges_[0].byte_offset == 0 &&
         std::uint64_t{ranges_[0].byte_count} == pfns_.size() * memory::kPageSize;
}

bool page_is_ram(memory::Pfn pfn, const memory::MemoryLayout& layout) {
  const auto gpa = pfn.address();
  if (!gpa) return false;
  const auto t = layout.translate(*gpa);
  return t.has_value() && t->contiguous >= memory::kPageSize;
}

Result<HeaderFields, Error> read_header_fields(std::span<const std::byte> message) {
  auto h = wire::parse_struct<wire::GpadlHeaderMsg>(message);
  if (!h.ok()) return Err(Error{ErrorKind::kShortMessage, 0, "GPADL_HEADER: " + h.error().reason});
  return HeaderFields{h->child_relid, h->gpadl, h->range_buflen, h->rangecount};
}

Result<BodyFields, Error> read_body_fields(std::span<const std::byte> message) {
  auto b = wire::parse_struct<wire::GpadlBodyMsg>(message);
  if (!b.ok()) return Err(Error{ErrorKind::kShortMessage, 0, "GPADL_BODY: " + b.error().reason});
  return BodyFields{b->msgnumber, b->gpadl};
}

Error Assembler::fail(ErrorKind kind, std::string detail) const {
  return Error{kind, fields_.handle, std::move(detail)};
}

Result<Assembler, Error> Assembler::begin(std::span<const std::byte> message,
                                          const memory::MemoryLayout& layout,
                                          const Limits& limits) {
  // The message is the server's private copy; its fixed fields are read once here.
  auto f = read_header_fields(message);
  if (!f.ok()) return Err(std::move(f.error()));
  const HeaderFields fields = *f;
  auto err = [&](ErrorKind kind, std::string detail) {
    return Err(Error{kind, fields.handle, std::move(detail)});
  };
  if (message.size() > limits.max_message_bytes) {
    return err(ErrorKind::kMessageOverCap,
               fmt::format("{} bytes, cap {}", message.size(), limits.max_message_bytes));
  }
  if (fields.handle == 0) return err(ErrorKind::kHandleZero, "handle 0 means no GPADL");
  if (fields.rangecount == 0) return err(ErrorKind::kRangeCountZero, "rangecount 0");
  if (fields.rangecount > limits.max_ranges) {
    return err(ErrorKind::kRangeCountOverCap,
               fmt::format("rangecount {}, cap {}", fields.rangecount, limits.max_ranges));
  }
  // Don't trust guest data: range_buflen decides how much we accept in all.
  if (fields.range_buflen % kSlot != 0) {
    return err(ErrorKind::kRangeBufLenInconsistent,
               fmt::format("range_buflen {} not a multiple of 8", fields.range_buflen));
  }
  const std::uint32_t slots_total = fields.range_buflen / kSlot;
  // Each range is one gpa_range slot and at least one pfn.
  if (slots_total < 2u * fields.rangecount) {
    return err(ErrorKind::kRangeBufLenInconsistent,
               fmt::format("range_buflen {} too small for {} ranges", fields.range_buflen,
                           fields.rangecount));
  }
  const std::uint32_t pages = slots_total - fields.rangecount;
  if (pages > limits.max_pages_per_gpadl) {
    return err(ErrorKind::kPageCountOverCap,
               fmt::format("{} pages announced, cap {}", pages, limits.max_pages_per_gpadl));
  }
  const auto payload = message.subspan(sizeof(wire::GpadlHeaderMsg));
  if (payload.size() < sizeof(wire::GpaRange)) {
    return err(ErrorKind::kShortMessage, "header carries no gpa_range");
  }
  if (payload.size() % kSlot != 0) {
    return err(ErrorKind::kMisalignedPayload,
               fmt::format("{} range bytes in the header", payload.size()));
  }
  if (payload.size() > fields.range_buflen) {
    return err(ErrorKind::kRangeBufLenInconsistent,
               fmt::format("header carries {} range bytes, range_buflen {}", payload.size(),
                           fields.range_buflen));
  }
  Assembler a(fields, slots_total, limits.max_message_bytes);
  a.ranges_.reserve(fields.rangecount);
  a.pfns_.reserve(std::min<std::uint32_t>(pages, 64));
  auto r = a.take_slots(payload, layout);
  if (!r.ok()) return Err(std::move(r.error()));
  return a;
}

Result<void, Error> Assembler::add_body(std::span<const std::byte> message,
                                        const memory::MemoryLayout& layout) {
  auto f = read_body_fields(message);
  if (!f.ok()) return Err(Error{f.error().kind, fields_.handle, f.error().detail});
  const BodyFields body = *f;
  if (body.handle != fields_.handle) {
    return Err(fail(ErrorKind::kUnknownGpadl,
                    fmt::format("body for {:#x} given to {:#x}", body.handle, fields_.handle)));
  }
  if (complete()) return Err(fail(ErrorKind::kGpadlAlreadyComplete, "no pages outstanding"));
  if (message.size() > max_message_bytes_) {
    return Err(fail(ErrorKind::kMessageOverCap, fmt::format("{} bytes", message.size())));
  }
  // Numbering: fixed by the first body (see the header comment).
  const std::uint32_t expected =
      !last_msgnumber_ ? (body.msgnumber == 0 ? 0 : 1)
                       : (*last_msgnumber_ == 0 ? 0 : *last_msgnumber_ + 1);
  if (body.msgnumber != expected) {
    return Err(fail(ErrorKind::kBodyOutOfSequence,
                    fmt::format("msgnumber {}, expected {}", body.msgnumber, expected)));
  }
  const auto payload = message.subspan(sizeof(wire::GpadlBodyMsg));
  if (payload.empty()) return Err(fail(ErrorKind::kShortMessage, "body carries no pfns"));
  if (payload.size() % kSlot != 0) {
    return Err(fail(ErrorKind::kMisalignedPayload, fmt::format("{} pfn bytes", payload.size())));
  }
  const std::uint64_t slots = payload.size() / kSlot;
  if (slots > slots_total_ - slots_seen_) {
    return Err(fail(ErrorKind::kBodyTooLong, fmt::format("{} pfns, {} outstanding", slots,
                                                         slots_total_ - slots_seen_)));
  }
  auto r = take_slots(payload, layout);
  if (!r.ok()) return r;
  last_msgnumber_ = body.msgnumber;
  ++bodies_seen_;
  return {};
}

Result<void, Error> Assembler::take_slots(std::span<const std::byte> bytes,
                                          const memory::MemoryLayout& layout) {
  // Bounded: bytes is at most one message (<= max_message_bytes / 8 slots).
  for (std::size_t at = 0; at + kSlot <= bytes.size(); at += kSlot) {
    if (pfns_left_in_range_ == 0) {
      // This slot is a gpa_range.
      if (ranges_.size() == fields_.rangecount) {
        return Err(fail(ErrorKind::kRangePageMismatch,
                        fmt::format("slots left after the last of {} ranges", fields_.rangecount)));
      }
      wire::GpaRange gr;
      std::memcpy(&gr, bytes.data() + at, sizeof gr);
      const std::size_t index = ranges_.size();
      if (gr.byte_count == 0) {
        return Err(fail(ErrorKind::kByteCountZero, fmt::format("range {}", index)));
      }
      if (gr.byte_offset >= memory::kPageSize) {
        return Err(fail(ErrorKind::kByteOffsetOutOfPage,
                        fmt::format("range {} byte_offset {}", index, gr.byte_offset)));
      }
      const std::uint64_t pages = wire::pages_spanned(gr.byte_offset, gr.byte_count);
      // Slots after this one, less the minimum (2 each) the later ranges need.
      const std::uint64_t after = slots_total_ - slots_seen_ - 1;
      const std::uint64_t later = 2ull * (fields_.rangecount - index - 1);
      if (after < later || pages > after - later) {
        return Err(fail(ErrorKind::kRangePageMismatch,
                        fmt::format("range {} ({} bytes at offset {}) spans {} pages, "
                                    "range_buflen leaves {}",
                                    index, gr.byte_count, gr.byte_offset, pages,
                                    after < later ? 0 : after - later)));
      }
      ranges_.push_back(Range{gr.byte_offset, gr.byte_count,
                              static_cast<std::uint32_t>(pfns_.size()),
                              static_cast<std::uint32_t>(pages)});
      pfns_left_in_range_ = static_cast<std::uint32_t>(pages);
    } else {
      std::uint64_t raw;
      std::memcpy(&raw, bytes.data() + at, sizeof raw);
      const memory::Pfn pfn(raw);
      if (!page_is_ram(pfn, layout)) {
        return Err(fail(ErrorKind::kPfnNotRam,
                        fmt::format("pfn {:#x} (page {}) is not guest RAM", raw, pfns_.size())));
      }
      pfns_.push_back(pfn);
      --pfns_left_in_range_;
    }
    ++slots_seen_;
  }
  if (complete() && (ranges_.size() != fields_.rangecount || pfns_left_in_range_ != 0)) {
    return Err(fail(ErrorKind::kRangePageMismatch,
                    fmt::format("range_buflen ends with {} of {} ranges", ranges_.size(),
                                fields_.rangecount)));
  }
  return {};
}

Gpadl Assembler::take() {
  if (!complete()) detail::result_bad_access("Assembler::take on an incomplete GPADL");
  return Gpadl(fields_.handle, fields_.child_relid, std::move(ranges_), std::move(pfns_));
}

}  // namespace vscsim::gpadl

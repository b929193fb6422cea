// A GPADL (Guest Physical Address Descriptor List): a list of GPA ranges the
// guest lends to the host, named by a 32-bit handle the guest chose, and how
// one is assembled from GPADL_HEADER and GPADL_BODY channel messages.
//
// On the wire (include/linux/hyperv.h, vmbus_channel_gpadl_header/_body):
//
//   GPADL_HEADER: child_relid, gpadl, range_buflen (u16), rangecount (u16),
//                 then range_buflen bytes of ranges: for each range a gpa_range
//                 {u32 byte_count, u32 byte_offset} followed by the pfns of
//                 every 4 KiB page the range spans (u64 each).
//   GPADL_BODY:   msgnumber, gpadl, then more u64 pfns.
//
// The range bytes form one stream of 8-byte slots: the header message carries
// the first slots, each body the next ones, until range_buflen bytes have
// arrived. So the header announces the page count up front:
// pages = range_buflen / 8 - rangecount. A Linux guest always sends one range
// with byte_offset 0 and byte_count = pages * 4096, 26 pfns in the header and
// up to 28 per body, with msgnumber left 0 in every body (its messages come
// from kzalloc and msgnumber is never set).
//
// Don't trust guest data: the assembler copies each fixed header out of the
// message once, checks every field against the announced totals and the caps
// before it stores anything, checks each pfn against guest RAM as it arrives,
// and never grows past the page count the header announced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/memory/address.h"
#include "vscsim/memory/layout.h"
#include "vscsim/wire/channel_messages.h"

namespace vscsim::gpadl {

// Caps. The defaults fit every Linux VSC: a u16 range_buflen limits one GPADL
// to (65535 - 8) / 8 = 8190 pages (32 MiB) anyway; netvsc's largest buffer is
// 16 MiB (4096 pages), a 128 KiB ring pair is 64 pages.
struct Limits {
  std::uint32_t max_pages_per_gpadl = 8190;
  // Linux always sends 1. Hyper-V accepts more; a few are plenty.
  std::uint32_t max_ranges = 16;
  // Largest GPADL_HEADER / GPADL_BODY accepted, whole message with its
  // 8-byte channel header: a SynIC message slot's payload.
  std::uint32_t max_message_bytes = wire::kMaxMessagePayload;
  // GPADLs one table (one channel) may hold, assembling or ready. Bounds the
  // memory a guest can make the host hold: max_gpadls * max_pages * 8 bytes.
  std::uint32_t max_gpadls = 256;
};

// Every way a GPADL message can be wrong, each distinct so tests and counters
// can tell them apart.
enum class ErrorKind {
  kShortMessage,         // shorter than the fixed part (+ one range for a header)
  kMessageOverCap,       // longer than Limits::max_message_bytes
  kMisalignedPayload,    // range bytes not a whole number of 8-byte slots
  kHandleZero,           // gpadl 0: the guest's own "no GPADL" value
  kRangeCountZero,       // rangecount == 0
  kRangeCountOverCap,    // rangecount > Limits::max_ranges
  kRangeBufLenInconsistent,  // range_buflen not 8-aligned, too small for its ranges,
                             // or fewer bytes than the header message carries
  kPageCountOverCap,     // announced pages > Limits::max_pages_per_gpadl
  kByteCountZero,        // a gpa_range with byte_count 0
  kByteOffsetOutOfPage,  // a gpa_range with byte_offset >= 4096
  kRangePageMismatch,    // pages spanned by (byte_offset + byte_count) disagree with
                         // the pfns range_buflen leaves for that range
  kPfnNotRam,            // a pfn whose page is not wholly guest RAM
  kHandleInUse,          // a header for a handle the table already holds
  kTableFull,            // Limits::max_gpadls reached
  kUnknownGpadl,         // body or teardown for a handle the table does not hold
  kGpadlAlreadyComplete, // body for a GPADL that needs no more pages
  kBodyOutOfSequence,    // msgnumber breaks the sequence (see Assembler::add_body)
  kBodyTooLong,          // body carries more pfns than the GPADL still needs
  kAlreadyTearingDown,   // teardown for a GPADL whose teardown is pending
};

[[nodiscard]] std::string_view error_kind_name(ErrorKind kind);
std::ostream& operator<<(std::ostream& os, ErrorKind kind);  // the name, for test logs

struct Error {
  ErrorKind kind;
  std::uint32_t handle = 0;  // the GPADL the message named (0 if unreadable)
  std::string detail;

  [[nodiscard]] std::string describe() const;
};

// One GPA range of a GPADL: byte_count bytes starting byte_offset into the
// first of its pages.
struct Range {
  std::uint32_t byte_offset;
  std::uint32_t byte_count;
  std::uint32_t first_pfn;   // index of its first page in Gpadl::pfns()
  std::uint32_t page_count;  // pages_spanned(byte_offset, byte_count)
};

// A complete, validated GPADL. Immutable once built.
class Gpadl {
 public:
  Gpadl(std::uint32_t handle, std::uint32_t child_relid, std::vector<Range> ranges,
        std::vector<memory::Pfn> pfns)
      : handle_(handle), child_relid_(child_relid), ranges_(std::move(ranges)),
        pfns_(std::move(pfns)) {}

  [[nodiscard]] std::uint32_t handle() const { return handle_; }
  [[nodiscard]] std::uint32_t child_relid() const { return child_relid_; }
  [[nodiscard]] std::span<const Range> ranges() const { return ranges_; }
  // Every page of every range, in order.
  [[nodiscard]] std::span<const memory::Pfn> pfns() const { return pfns_; }
  [[nodiscard]] std::span<const memory::Pfn> range_pfns(std::size_t i) const {
    return std::span<const memory::Pfn>(pfns_).subspan(ranges_[i].first_pfn,
                                                       ranges_[i].page_count);
  }
  [[nodiscard]] std::size_t page_count() const { return pfns_.size(); }
  // One range covering whole pages from offset 0: the shape a ring GPADL
  // (and any page-granular buffer) must have.
  [[nodiscard]] bool is_whole_pages() const;

 private:
  std::uint32_t handle_;
  std::uint32_t child_relid_;
  std::vector<Range> ranges_;
  std::vector<memory::Pfn> pfns_;
};

// The fixed fields of a GPADL_HEADER, read once.
struct HeaderFields {
  std::uint32_t child_relid;
  std::uint32_t handle;
  std::uint16_t range_buflen;
  std::uint16_t rangecount;
};
// Reads the fixed part of a GPADL_HEADER message (whole message, channel
// header included). Only checks the size.
Result<HeaderFields, Error> read_header_fields(std::span<const std::byte> message);

// The fixed fields of a GPADL_BODY, read once.
struct BodyFields {
  std::uint32_t msgnumber;
  std::uint32_t handle;
};
Result<BodyFields, Error> read_body_fields(std::span<const std::byte> message);

// Builds one GPADL from its header and bodies.
class Assembler {
 public:
  // Validates a GPADL_HEADER message (whole message) and takes its slots.
  // `layout` is used to check each pfn is RAM.
  static Result<Assembler, Error> begin(std::span<const std::byte> message,
                                        const memory::MemoryLayout& layout,
                                        const Limits& limits = {});

  // Adds a GPADL_BODY message (whole message) whose handle matches. The
  // msgnumber rule: the first body fixes the numbering. If it carries 0, every
  // body must carry 0 (the Linux guest never numbers its bodies). Otherwise it
  // must carry 1 and each next body the previous number + 1, so a numbered
  // guest's lost or reordered body is caught.
  Result<void, Error> add_body(std::span<const std::byte> message,
                               const memory::MemoryLayout& layout);

  [[nodiscard]] bool complete() const { return slots_seen_ == slots_total_; }
  [[nodiscard]] std::uint32_t handle() const { return fields_.handle; }
  [[nodiscard]] std::uint32_t child_relid() const { return fields_.child_relid; }
  [[nodiscard]] std::uint32_t announced_pages() const { return slots_total_ - fields_.rangecount; }
  [[nodiscard]] std::uint32_t bodies_seen() const { return bodies_seen_; }

  // The finished GPADL. Only when complete(); leaves the assembler empty.
  Gpadl take();

 private:
  Assembler(const HeaderFields& fields, std::uint32_t slots_total,
            std::uint32_t max_message_bytes)
      : fields_(fields), slots_total_(slots_total), max_message_bytes_(max_message_bytes) {}
  // Consumes whole 8-byte slots (a multiple of 8 bytes, at most what is left).
  Result<void, Error> take_slots(std::span<const std::byte> bytes,
                                 const memory::MemoryLayout& layout);
  Error fail(ErrorKind kind, std::string detail) const;

  HeaderFields fields_;
  std::uint32_t slots_total_;
  std::uint32_t max_message_bytes_;
  std::uint32_t slots_seen_ = 0;
  std::uint32_t pfns_left_in_range_ = 0;
  std::uint32_t bodies_seen_ = 0;
  std::optional<std::uint32_t> last_msgnumber_;
  std::vector<Range> ranges_;
  std::vector<memory::Pfn> pfns_;
};

// True if the 4 KiB page `pfn` lies wholly inside guest RAM.
[[nodiscard]] bool page_is_ram(memory::Pfn pfn, const memory::MemoryLayout& layout);

}  // namespace vscsim::gpadl

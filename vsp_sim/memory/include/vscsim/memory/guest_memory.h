// GuestMemory: the simulator's only way into guest RAM.
//
// The guest's RAM is a file shared with QEMU (memory-backend-file, share=on;
// possibly a memfd reached as /proc/<pid>/fd/<n>). GuestMemory maps it once and
// checks every access against the MemoryLayout with overflow-checked
// arithmetic: whatever address or length a guest supplies, nothing outside
// guest RAM is touched. A failed access says how far it got
// (expected/completed), like vm-memory's PartialBuffer error.
//
// Concurrency: the guest may write any byte at any time. Reads copy bytes out
// into host memory; callers validate the copy, never the guest's bytes, and
// never read the same guest field twice expecting the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "vscsim/base/result.h"
#include "vscsim/memory/address.h"
#include "vscsim/memory/layout.h"

namespace vscsim::memory {

struct MemoryError {
  enum class Kind {
    kNotRam,      // some byte of the range is in the hole or past the end of RAM
    kOverflow,    // the range wraps the 64-bit address space
    kBadRequest,  // the request itself is malformed (empty page list, offset past the pages)
    kSystem,      // open/fstat/mmap failed (errno in sys_errno)
  };
  Kind kind;
  GuestAddress address;     // the first byte that could not be reached
  std::uint64_t expected;   // bytes asked for
  std::uint64_t completed;  // bytes done before the failure
  int sys_errno = 0;
  std::string detail;

  [[nodiscard]] std::string describe() const;
};

// A host view of a list of guest pages, in list order, contiguous on the host
// even when the pages are scattered in guest physical space. Built by mapping
// each run of file pages with MAP_FIXED into one reserved range, so it costs
// no copy: reads and writes through it are reads and writes of guest RAM.
class PageView {
 public:
  PageView() = default;
  PageView(PageView&& other) noexcept;
  PageView& operator=(PageView&& other) noexcept;
  PageView(const PageView&) = delete;
  PageView& operator=(const PageView&) = delete;
  ~PageView();

  [[nodiscard]] std::span<std::byte> bytes() const { return {base_, size_}; }
  [[nodiscard]] std::size_t page_count() const { return size_ / kPageSize; }

 private:
  friend class GuestMemory;
  PageView(std::byte* base, std::size_t size) : base_(base), size_(size) {}
  void release();
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

class GuestMemory {
 public:
  // Maps guest RAM from an open file descriptor (the fd is duplicated; the
  // caller keeps its own). The file must hold at least layout.ram_size() bytes.
  static Result<GuestMemory, MemoryError> map_fd(int fd, const MemoryLayout& layout);
  // Opens `path` read-write (a RAM file, or /proc/<pid>/fd/<n> for a memfd).
  static Result<GuestMemory, MemoryError> map_file(const std::string& path,
                                                   const MemoryLayout& layout);

  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&& other) noexcept;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory();

  [[nodiscard]] const MemoryLayout& layout() const { return layout_; }

  Result<void, MemoryError> read(GuestAddress gpa, std::span<std::byte> out) const;
  Result<void, MemoryError> write(GuestAddress gpa, std::span<const std::byte> in) const;

  template <class T>
    requires std::is_trivially_copyable_v<T>
  Result<T, MemoryError> read_obj(GuestAddress gpa) const {
    T obj;
    auto r = read(gpa, std::as_writable_bytes(std::span(&obj, 1)));
    if (!r.ok()) return Err(std::move(r.error()));
    return obj;
  }

  template <class T>
    requires std::is_trivially_copyable_v<T>
  Result<void, MemoryError> write_obj(GuestAddress gpa, const T& obj) const {
    return write(gpa, std::as_bytes(std::span(&obj, 1)));
  }

  // Scatter/gather over a page list, as a GPADL or a GPA-direct range names
  // memory: byte i of the buffer is at byte (first_offset + i) of the
  // concatenated pages. Fails with kBadRequest if the buffer runs past the
  // last page, and with kNotRam at the first page that is not RAM.
  Result<void, MemoryError> read_pages(std::span<const Pfn> pfns, std::uint64_t first_offset,
                                       std::span<std::byte> out) const;
  Result<void, MemoryError> write_pages(std::span<const Pfn> pfns, std::uint64_t first_offset,
                                        std::span<const std::byte> in) const;

  // A contiguous host view of the listed pages (see PageView). Every page is
  // checked first; on error nothing is mapped.
  Result<PageView, MemoryError> map_pages(std::span<const Pfn> pfns) const;

 private:
  GuestMemory(int fd, std::byte* base, const MemoryLayout& layout)
      : fd_(fd), base_(base), layout_(layout) {}
  void release();

  // Calls fn(host_pointer, bytes_done_so_far, chunk_length) for each piece of
  // [gpa, gpa + len) that is contiguous in the file.
  template <class Fn>
  Result<void, MemoryError> for_each_chunk(GuestAddress gpa, std::uint64_t len, Fn&& fn) const;

  int fd_ = -1;
  std::byte* base_ = nullptr;
  MemoryLayout layout_;
};

}  // namespace vscsim::memory

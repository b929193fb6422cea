#include "vscsim/memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace vscsim::memory {
namespace {

MemoryError system_error(std::string what, int err) {
  return MemoryError{MemoryError::Kind::kSystem, GuestAddress(0), 0, 0, err, std::move(what)};
}

std::string_view kind_name(MemoryError::Kind kind) {
  switch (kind) {
    case MemoryError::Kind::kNotRam:
      return "not guest RAM";
    case MemoryError::Kind::kOverflow:
      return "address overflow";
    case MemoryError::Kind::kBadRequest:
      return "bad request";
    case MemoryError::Kind::kSystem:
      return "system error";
  }
  return "?";
}

}  // namespace

std::string MemoryError::describe() const {
  std::string s = fmt::format("{} at GPA {:#x} ({} of {} bytes done)", kind_name(kind),
                              address.value(), completed, expected);
  if (!detail.empty()) s += fmt::format(": {}", detail);
  if (sys_errno != 0) s += fmt::format(" (errno {})", sys_errno);
  return s;
}

// ---- PageView ----

PageView::PageView(PageView&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageView& PageView::operator=(PageView&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

PageView::~PageView() { release(); }

void PageView::release() {
  if (base_ != nullptr) munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
}

// ---- GuestMemory ----

Result<GuestMemory, MemoryError> GuestMemory::map_fd(int fd, const MemoryLayout& layout) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Err(system_error("fstat of the RAM file failed", errno));
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < layout.ram_size()) {
    return Err(system_error(fmt::format("RAM file holds {} bytes, the layout needs {}",
                                        st.st_size, layout.ram_size()),
                            0));
  }
  const int own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own_fd < 0) return Err(system_error("dup of the RAM fd failed", errno));
  void* p = mmap(nullptr, layout.ram_size(), PROT_READ | PROT_WRITE, MAP_SHARED, own_fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    close(own_fd);
    return Err(system_error("mmap of guest RAM failed", err));
  }
  return GuestMemory(own_fd, static_cast<std::byte*>(p), layout);
}

Result<GuestMemory, MemoryError> GuestMemory::map_file(const std::string& path,
                                                       const MemoryLayout& layout) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Err(system_error(fmt::format("cannot open {}", path), errno));
  auto mem = map_fd(fd, layout);
  close(fd);
  return mem;
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      layout_(other.layout_) {}

GuestMemory& GuestMemory::operator=(GuestMemory&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    layout_ = other.layout_;
  }
  return *this;
}

GuestMemory::~GuestMemory() { release(); }

void GuestMemory::release() {
  if (base_ != nullptr) munmap(base_, layout_.ram_size());
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  fd_ = -1;
}

template <class Fn>
Result<void, MemoryError> GuestMemory::for_each_chunk(GuestAddress gpa, std::uint64_t len,
                                                      Fn&& fn) const {
  std::uint64_t done = 0;
  while (done < len) {
    const auto at = gpa.checked_add(done);
    if (!at) return Err(MemoryError{MemoryError::Kind::kOverflow, gpa, len, done, 0, {}});
    const auto t = layout_.translate(*at);
    if (!t) return Err(MemoryError{MemoryError::Kind::kNotRam, *at, len, done, 0, {}});
    const std::uint64_t n = std::min(len - done, t->contiguous);
    fn(base_ + t->file_offset, done, n);
    done += n;
  }
  return {};
}

Result<void, MemoryError> GuestMemory::read(GuestAddress gpa, std::span<std::byte> out) const {
  return for_each_chunk(gpa, out.size(), [&](const std::byte* host, std::uint64_t done,
                                             std::uint64_t n) {
    std::memcpy(out.data() + done, host, n);
  });
}

Result<void, MemoryError> GuestMemory::write(GuestAddress gpa,
                                             std::span<const std::byte> in) const {
  return for_each_chunk(gpa, in.size(), [&](std::byte* host, std::uint64_t done,
                                            std::uint64_t n) {
    std::memcpy(host, in.data() + done, n);
  });
}

namespace {

// Checks that [first_offset, first_offset + len) lies inside `page_count` pages.
std::optional<MemoryError> check_page_range(std::size_t page_count, std::uint64_t first_offset,
                                            std::uint64_t len) {
  const auto end = checked_add(first_offset, len);
  const auto limit = checked_mul(page_count, kPageSize);
  if (!end || !limit || *end > *limit) {
    return MemoryError{MemoryError::Kind::kBadRequest, GuestAddress(0), len, 0, 0,
                       fmt::format("{} bytes at offset {} run past {} pages", len, first_offset,
                                   page_count)};
  }
  return std::nullopt;
}

}  // namespace

template <class Span, class Copy>
static Result<void, MemoryError> walk_pages(const MemoryLayout& layout, std::byte* base,
                                            std::span<const Pfn> pfns, std::uint64_t first_offset,
                                            Span buf, Copy&& copy) {
  if (auto e = check_page_range(pfns.size(), first_offset, buf.size())) return Err(std::move(*e));
  std::uint64_t done = 0;
  std::uint64_t pos = first_offset;
  while (done < buf.size()) {
    const Pfn pfn = pfns[pos / kPageSize];
    const std::uint64_t in_page = pos % kPageSize;
    const std::uint64_t n = std::min<std::uint64_t>(kPageSize - in_page, buf.size() - done);
    const auto page = pfn.address();
    if (!page) {
      return Err(MemoryError{MemoryError::Kind::kOverflow, GuestAddress(0), buf.size(), done, 0,
                             fmt::format("page number {:#x} overflows", pfn.value())});
    }
    const auto t = layout.translate(*page);
    if (!t) {
      return Err(MemoryError{MemoryError::Kind::kNotRam, *page, buf.size(), done, 0,
                             fmt::format("page number {:#x}", pfn.value())});
    }
    copy(base + t->file_offset + in_page, done, n);
    done += n;
    pos += n;
  }
  return {};
}

Result<void, MemoryError> GuestMemory::read_pages(std::span<const Pfn> pfns,
                                                  std::uint64_t first_offset,
                                                  std::span<std::byte> out) const {
  return walk_pages(layout_, base_, pfns, first_offset, out,
                    [&](const std::byte* host, std::uint64_t done, std::uint64_t n) {
                      std::memcpy(out.data() + done, host, n);
                    });
}

Result<void, MemoryError> GuestMemory::write_pages(std::span<const Pfn> pfns,
                                                   std::uint64_t first_offset,
                                                   std::span<const std::byte> in) const {
  return walk_pages(layout_, base_, pfns, first_offset, in,
                    [&](std::byte* host, std::uint64_t done, std::uint64_t n) {
                      std::memcpy(host, in.data() + done, n);
                    });
}

Result<PageView, MemoryError> GuestMemory::map_pages(std::span<const Pfn> pfns) const {
  if (pfns.empty()) {
    return Err(MemoryError{MemoryError::Kind::kBadRequest, GuestAddress(0), 0, 0, 0,
                           "empty page list"});
  }
  const auto total = checked_mul(pfns.size(), kPageSize);
  const auto cap = checked_mul(layout_.ram_size() / kPageSize, 2);
  if (!total || !cap || pfns.size() > *cap + 1) {
    // A ring never needs more than all of RAM (twice, if double-mapped).
    return Err(MemoryError{MemoryError::Kind::kBadRequest, GuestAddress(0), 0, 0, 0,
                           fmt::format("{} pages is more than guest RAM", pfns.size())});
  }
  // Check every page before mapping anything.
  std::vector<std::uint64_t> offsets;
  offsets.reserve(pfns.size());
  for (std::size_t i = 0; i < pfns.size(); ++i) {
    const auto page = pfns[i].address();
    const auto t = page ? layout_.translate(*page) : std::nullopt;
    if (!t) {
      return Err(MemoryError{page ? MemoryError::Kind::kNotRam : MemoryError::Kind::kOverflow,
                             page.value_or(GuestAddress(0)), *total, i * kPageSize, 0,
                             fmt::format("page number {:#x}", pfns[i].value())});
    }
    offsets.push_back(t->file_offset);
  }
  void* area = mmap(nullptr, *total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (area == MAP_FAILED) return Err(system_error("reserving a page view failed", errno));
  PageView view(static_cast<std::byte*>(area), *total);
  // Map each run of pages that are consecutive in the file with one mmap.
  std::size_t i = 0;
  while (i < offsets.size()) {
    std::size_t run = 1;
    while (i + run < offsets.size() && offsets[i + run] == offsets[i] + run * kPageSize) ++run;
    void* want = static_cast<std::byte*>(area) + i * kPageSize;
    void* got = mmap(want, run * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_,
                     static_cast<off_t>(offsets[i]));
    if (got == MAP_FAILED) return Err(system_error("mapping a guest page failed", errno));
    i += run;
  }
  return view;
}

}  // namespace vscsim::memory

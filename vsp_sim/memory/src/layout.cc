#include "vscsim/memory/layout.h"

#include <algorithm>

#include <fmt/core.h>

namespace vscsim::memory {

Result<MemoryLayout, std::string> MemoryLayout::q35(std::uint64_t ram_size,
                                                    std::uint64_t max_ram_below_4g) {
  std::uint64_t lowmem = ram_size >= 0xB0000000ULL ? 0x80000000ULL : 0xB0000000ULL;
  lowmem = std::min(lowmem, max_ram_below_4g);
  return split(ram_size, std::min(ram_size, lowmem));
}

Result<MemoryLayout, std::string> MemoryLayout::split(std::uint64_t ram_size,
                                                      std::uint64_t below_4g) {
  if (ram_size == 0 || ram_size % kPageSize != 0) {
    return Err(fmt::format("RAM size {:#x} is not a non-zero multiple of 4 KiB", ram_size));
  }
  if (below_4g % kPageSize != 0 || below_4g > ram_size || below_4g > kFourGiB) {
    return Err(fmt::format("RAM below 4 GiB {:#x} is not a page multiple within RAM and 4 GiB",
                           below_4g));
  }
  // The high region must end inside the 64-bit address space.
  if (!checked_add(kFourGiB, ram_size - below_4g)) {
    return Err(fmt::format("RAM size {:#x} does not fit above 4 GiB", ram_size));
  }
  return MemoryLayout(ram_size, below_4g);
}

std::optional<MemoryLayout::Translation> MemoryLayout::translate(GuestAddress gpa) const {
  const std::uint64_t a = gpa.value();
  if (a < below_4g_) return Translation{a, below_4g_ - a};
  if (a >= kFourGiB && a - kFourGiB < above_4g()) {
    const std::uint64_t into_high = a - kFourGiB;
    return Translation{below_4g_ + into_high, above_4g() - into_high};
  }
  return std::nullopt;
}

}  // namespace vscsim::memory

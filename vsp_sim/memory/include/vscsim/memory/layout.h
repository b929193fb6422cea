// Where guest RAM sits in guest physical address space, and how a guest
// physical address maps to an offset in the RAM backing file.
//
// QEMU backs all of a q35 guest's RAM with one file (memory-backend-file). The
// first `below_4g` bytes of the file appear at GPA 0; the rest appear at GPA
// 4 GiB and up. GPAs between below_4g and 4 GiB are the PCI/MMIO hole and map
// to no RAM at all. So:
//
//     gpa <  below_4g                      -> offset gpa
//     4 GiB <= gpa < 4 GiB + above_4g      -> offset gpa - 4 GiB + below_4g
//     anything else                        -> not RAM
//
// How QEMU picks below_4g for q35 (hw/i386/pc_q35.c, pc_q35_init; read in the
// upstream 6.x/7.x source, Debian 12 ships 7.2, whose default q35 machine uses it):
//   lowmem = ram_size >= 0xB0000000 (2.75 GiB) ? 0x80000000 (2 GiB) : 0xB0000000;
//   lowmem = min(lowmem, max-ram-below-4g)   (machine option, default 4 GiB);
//   below_4g = min(ram_size, lowmem); above_4g = ram_size - below_4g.
// The legacy VGA/ROM window (0xA0000-0xFFFFF) still has RAM behind it in the
// file; mapping it is harmless (it stays inside guest RAM), and no guest driver
// hands it out for DMA.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vscsim/base/result.h"
#include "vscsim/memory/address.h"

namespace vscsim::memory {

inline constexpr std::uint64_t kFourGiB = 4 * kGiB;
inline constexpr std::uint64_t kQ35DefaultMaxRamBelow4G = kFourGiB;

class MemoryLayout {
 public:
  // The q35 rule above. `ram_size` is QEMU's -m size (the backing file size).
  static Result<MemoryLayout, std::string> q35(std::uint64_t ram_size,
                                               std::uint64_t max_ram_below_4g =
                                                   kQ35DefaultMaxRamBelow4G);
  // An explicit split: the first `below_4g` bytes at GPA 0, the rest at 4 GiB.
  // Both sizes must be page multiples and below_4g <= min(ram_size, 4 GiB).
  static Result<MemoryLayout, std::string> split(std::uint64_t ram_size, std::uint64_t below_4g);

  [[nodiscard]] std::uint64_t ram_size() const { return ram_size_; }
  [[nodiscard]] std::uint64_t below_4g() const { return below_4g_; }
  [[nodiscard]] std::uint64_t above_4g() const { return ram_size_ - below_4g_; }

  struct Translation {
    std::uint64_t file_offset;
    // Bytes from this GPA to the end of its RAM region: the longest access
    // starting here that stays contiguous in both GPA space and the file.
    std::uint64_t contiguous;
  };
  // The one place that maps a GPA to a file offset. nullopt for GPAs in the
  // hole or past the end of RAM.
  [[nodiscard]] std::optional<Translation> translate(GuestAddress gpa) const;

 private:
  MemoryLayout(std::uint64_t ram_size, std::uint64_t below_4g)
      : ram_size_(ram_size), below_4g_(below_4g) {}
  std::uint64_t ram_size_;
  std::uint64_t below_4g_;
};

}  // namespace vscsim::memory

// Strong types for guest physical addresses and 4 KiB page frame numbers.
//
// Device code never turns a number the guest wrote into a pointer; it makes a
// GuestAddress or a Pfn and hands it to GuestMemory, which checks it.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

namespace vscsim::memory {

inline constexpr std::uint64_t kPageSize = 4096;  // HV_HYP_PAGE_SIZE: VMBus pages are 4 KiB
inline constexpr unsigned kPageShift = 12;
inline constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

// Overflow-checked arithmetic on guest-supplied numbers.
[[nodiscard]] constexpr std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}
[[nodiscard]] constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// A guest physical address (GPA).
class GuestAddress {
 public:
  constexpr GuestAddress() = default;
  constexpr explicit GuestAddress(std::uint64_t value) : value_(value) {}
  [[nodiscard]] constexpr std::uint64_t value() const { return value_; }
  [[nodiscard]] constexpr std::optional<GuestAddress> checked_add(std::uint64_t bytes) const {
    auto r = memory::checked_add(value_, bytes);
    if (!r) return std::nullopt;
    return GuestAddress(*r);
  }
  [[nodiscard]] constexpr std::uint64_t page_offset() const { return value_ & (kPageSize - 1); }
  friend constexpr auto operator<=>(GuestAddress, GuestAddress) = default;

 private:
  std::uint64_t value_ = 0;
};

// A guest page frame number: GPA >> 12. Any 64-bit value may arrive from the
// guest; address() fails for numbers whose address does not fit in 64 bits.
class Pfn {
 public:
  constexpr Pfn() = default;
  constexpr explicit Pfn(std::uint64_t value) : value_(value) {}
  [[nodiscard]] constexpr std::uint64_t value() const { return value_; }
  [[nodiscard]] constexpr std::optional<GuestAddress> address() const {
    if (value_ > (UINT64_MAX >> kPageShift)) return std::nullopt;
    return GuestAddress(value_ << kPageShift);
  }
  friend constexpr auto operator<=>(Pfn, Pfn) = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace vscsim::memory

// A 16-byte GUID with the Windows/Linux guid_t byte order.
//
// On the wire a GUID is 16 bytes: the first three groups of the text form are
// stored little-endian (u32, u16, u16), the last two groups byte by byte. So
// "0590b792-db64-45cc-81db-b8d70c577c9e" is stored as
// 92 b7 90 05  64 db  cc 45  81 db  b8 d7 0c 57 7c 9e.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vscsim::wire {

struct Guid {
  std::array<std::uint8_t, 16> bytes{};

  // Parses the 36-character text form (hex digits of either case, dashes at
  // 8, 13, 18, 23). Anything else, including braces or trailing bytes: nullopt.
  static std::optional<Guid> parse(std::string_view text);
  // Lower-case 36-character text form.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Guid&, const Guid&) = default;
};

static_assert(sizeof(Guid) == 16);

}  // namespace vscsim::wire

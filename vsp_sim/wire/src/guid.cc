#include "vscsim/wire/guid.h"

#include <fmt/core.h>

namespace vscsim::wire {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text byte i (0..15, in reading order) lands at this wire position.
constexpr std::array<int, 16> kWireIndex{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

}  // namespace

std::optional<Guid> Guid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Guid g;
  std::size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
      if (text[pos] != '-') return std::nullopt;
      ++pos;
    }
    const int hi = hex_value(text[pos]);
    const int lo = hex_value(text[pos + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    g.bytes[static_cast<std::size_t>(kWireIndex[static_cast<std::size_t>(i)])] =
        static_cast<std::uint8_t>(hi * 16 + lo);
    pos += 2;
  }
  return g;
}

std::string Guid::to_string() const {
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += fmt::format("{:02x}", bytes[static_cast<std::size_t>(kWireIndex[i])]);
  }
  return s;
}

}  // namespace vscsim::wire

#include "vscsim/blobstore/names.h"

#include <fmt/format.h>

#include <cstdint>

namespace vscsim::blobstore {

Result<void, std::string> check_container_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxContainerName) {
    return Err(fmt::format("container name of {} bytes (1..{})", name.size(), kMaxContainerName));
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return Err(std::string("container names are [a-z0-9-] only"));
  }
  return {};
}

Result<void, std::string> check_blob_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxBlobName) {
    return Err(fmt::format("blob name of {} bytes (1..{})", name.size(), kMaxBlobName));
  }
  if (name.front() == '/') return Err(std::string("blob names may not start with '/'"));
  if (name.find('\0') != std::string_view::npos) {
    return Err(std::string("blob names may not contain NUL"));
  }
  if (!is_valid_utf8(name)) return Err(std::string("blob name is not valid UTF-8"));
  return {};
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<std::uint8_t>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    // Sequence length, the lead byte's payload bits, and the smallest code
    // point that needs this length (anything below is an overlong encoding).
    struct Form {
      std::uint8_t mask, lead;
      std::size_t len;
      std::uint32_t min;
    };
    static constexpr Form kForms[] = {
        {0xe0, 0xc0, 2, 0x80}, {0xf0, 0xe0, 3, 0x800}, {0xf8, 0xf0, 4, 0x10000}};
    const Form* form = nullptr;
    for (const Form& f : kForms) {
      if ((b0 & f.mask) == f.lead) form = &f;
    }
    if (form == nullptr) return false;  // a continuation byte first, or 0xf8..0xff
    const std::size_t len = form->len;
    const std::uint32_t min = form->min;
    std::uint32_t cp = b0 & static_cast<std::uint8_t>(~form->mask);
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<std::uint8_t>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace vscsim::blobstore

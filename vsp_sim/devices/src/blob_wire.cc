#include "vscsim/devices/blob_wire.h"

#include <fmt/format.h>

#include <array>

namespace vscsim::devices::blob_wire {

std::string_view name(WireStatus status) {
  switch (status) {
    case WireStatus::kSuccess: return "success";
    case WireStatus::kInvalidRequest: return "invalid-request";
    case WireStatus::kTimedOut: return "timed-out";
    case WireStatus::kResponseTooSmall: return "response-too-small";
    case WireStatus::kStoreFailed: return "store-failed";
  }
  return "?";
}

namespace {

// offset + length inside `total` bytes; 64-bit, so two u32 fields cannot wrap.
bool inside(const Window& w, std::uint64_t total) {
  return w.offset <= total && w.length <= total - w.offset;
}

bool overlap(const Window& a, const Window& b) {
  if (a.length == 0 || b.length == 0) return false;
  return a.offset < b.offset + b.length && b.offset < a.offset + a.length;
}

}  // namespace

Result<CheckedRequest, std::string> check_request(const Request& r,
                                                  const wire::ParsedGpaRange& range) {
  const std::uint64_t pages = range.pfns.size();
  if (pages == 0 || pages > kMaxPages) {
    return Err(fmt::format("{} pages (1..{})", pages, kMaxPages));
  }
  const std::uint64_t total = pages * kPageBytes;
  if (range.byte_offset != 0 || range.byte_count != total) {
    return Err(fmt::format("range of {} bytes at offset {} is not {} whole pages", range.byte_count,
                           range.byte_offset, pages));
  }
  if (r.version != kVersion) return Err(fmt::format("version {}", r.version));
  if (r.operation_type != kOpUserRequest) {
    return Err(fmt::format("operation {:#x}", r.operation_type));
  }
  CheckedRequest c{{r.data_buffer_offset, r.data_buffer_length},
                   r.data_buffer_valid,
                   {r.request_buffer_offset, r.request_buffer_length},
                   {r.response_buffer_offset, r.response_buffer_length},
                   r.timeout_ms};
  if (c.request.length == 0 || c.response.length == 0) {
    return Err(fmt::format("request length {}, response length {}", c.request.length,
                           c.response.length));
  }
  if (c.data_valid > c.data.length) {
    return Err(fmt::format("data_valid {} > data length {}", c.data_valid, c.data.length));
  }
  const std::array<std::pair<const char*, const Window*>, 3> windows{
      {{"data", &c.data}, {"request", &c.request}, {"response", &c.response}}};
  for (const auto& [what, w] : windows) {
    if (!inside(*w, total)) {
      return Err(fmt::format("{} buffer [{}, +{}) outside {} bytes of pages", what, w->offset,
                             w->length, total));
    }
  }
  for (std::size_t i = 0; i < windows.size(); ++i) {
    for (std::size_t j = i + 1; j < windows.size(); ++j) {
      if (overlap(*windows[i].second, *windows[j].second)) {
        return Err(fmt::format("{} and {} buffers overlap", windows[i].first, windows[j].first));
      }
    }
  }
  return c;
}

}  // namespace vscsim::devices::blob_wire

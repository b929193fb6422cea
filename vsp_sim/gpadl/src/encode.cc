#include "vscsim/gpadl/encode.h"

#include <algorithm>
#include <cstring>

#include "vscsim/wire/channel_messages.h"
#include "vscsim/wire/packet.h"

namespace vscsim::gpadl {

namespace {

template <class T>
void append(std::vector<std::byte>& out, const T& value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

std::vector<Message> encode_gpadl(std::uint32_t child_relid, std::uint32_t handle,
                                  std::span<const EncodeRange> ranges,
                                  const EncodeOptions& options) {
  // The slot stream: for each range its gpa_range, then its pfns.
  std::vector<std::uint64_t> slots;
  for (const auto& r : ranges) {
    wire::GpaRange gr{r.byte_count, r.byte_offset};
    std::uint64_t s;
    std::memcpy(&s, &gr, sizeof s);
    slots.push_back(s);
    for (const auto& pfn : r.pfns) slots.push_back(pfn.value());
  }
  std::vector<Message> out;
  wire::GpadlHeaderMsg h{};
  h.header.msgtype = wire::ChannelMessageType::kGpadlHeader;
  h.child_relid = child_relid;
  h.gpadl = handle;
  h.range_buflen = static_cast<std::uint16_t>(slots.size() * 8);
  h.rangecount = static_cast<std::uint16_t>(ranges.size());
  Message header;
  append(header, h);
  const std::size_t in_header = std::min<std::size_t>(slots.size(), options.header_slots);
  for (std::size_t i = 0; i < in_header; ++i) append(header, slots[i]);
  out.push_back(std::move(header));
  std::uint32_t number = 0;
  const std::size_t per_body = std::max<std::uint32_t>(options.body_slots, 1);
  for (std::size_t at = in_header; at < slots.size(); at += per_body) {
    wire::GpadlBodyMsg b{};
    b.header.msgtype = wire::ChannelMessageType::kGpadlBody;
    b.msgnumber = options.number_bodies ? ++number : 0;
    b.gpadl = handle;
    Message body;
    append(body, b);
    const std::size_t end = std::min(slots.size(), at + per_body);
    for (std::size_t i = at; i < end; ++i) append(body, slots[i]);
    out.push_back(std::move(body));
  }
  return out;
}

std::vector<Message> encode_gpadl_pages(std::uint32_t child_relid, std::uint32_t handle,
                                        std::span<const memory::Pfn> pfns,
                                        const EncodeOptions& options) {
  const EncodeRange range{0, static_cast<std::uint32_t>(pfns.size() * memory::kPageSize),
                          std::vector<memory::Pfn>(pfns.begin(), pfns.end())};
  return encode_gpadl(child_relid, handle, std::span(&range, 1), options);
}

}  // namespace vscsim::gpadl

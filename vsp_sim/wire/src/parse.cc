#include "vscsim/wire/parse.h"

#include <fmt/core.h>

namespace vscsim::wire {

std::optional<std::size_t> channel_message_size(ChannelMessageType type) {
  switch (type) {
    case ChannelMessageType::kOfferChannel:
      return sizeof(OfferChannelMsg);
    case ChannelMessageType::kRescindChannelOffer:
      return sizeof(RescindOfferMsg);
    case ChannelMessageType::kRequestOffers:
      return sizeof(RequestOffersMsg);
    case ChannelMessageType::kAllOffersDelivered:
      return sizeof(AllOffersDeliveredMsg);
    case ChannelMessageType::kOpenChannel:
      return sizeof(OpenChannelMsg);
    case ChannelMessageType::kOpenChannelResult:
      return sizeof(OpenResultMsg);
    case ChannelMessageType::kCloseChannel:
      return sizeof(CloseChannelMsg);
    case ChannelMessageType::kGpadlHeader:
      return sizeof(GpadlHeaderMsg);
    case ChannelMessageType::kGpadlBody:
      return sizeof(GpadlBodyMsg);
    case ChannelMessageType::kGpadlCreated:
      return sizeof(GpadlCreatedMsg);
    case ChannelMessageType::kGpadlTeardown:
      return sizeof(GpadlTeardownMsg);
    case ChannelMessageType::kGpadlTorndown:
      return sizeof(GpadlTorndownMsg);
    case ChannelMessageType::kRelidReleased:
      return sizeof(RelidReleasedMsg);
    case ChannelMessageType::kInitiateContact:
      return sizeof(InitiateContactMsg);
    case ChannelMessageType::kVersionResponse:
      return sizeof(VersionResponseMsg);
    case ChannelMessageType::kUnload:
      return sizeof(UnloadMsg);
    case ChannelMessageType::kUnloadResponse:
      return sizeof(UnloadResponseMsg);
    default:
      return std::nullopt;
  }
}

Result<ChannelMessageType, ParseError> check_channel_message(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxMessagePayload) {
    return Err(ParseError{fmt::format("message of {} bytes exceeds {}", bytes.size(),
                                      kMaxMessagePayload)});
  }
  auto header = parse_struct<ChannelMessageHeader>(bytes);
  if (!header.ok()) return Err(std::move(header.error()));
  const ChannelMessageType type = header->msgtype;
  const auto size = channel_message_size(type);
  if (!size) {
    return Err(ParseError{fmt::format("unknown message type {}", static_cast<std::uint32_t>(type))});
  }
  if (bytes.size() < *size) {
    return Err(ParseError{fmt::format("message type {} needs {} bytes, has {}",
                                      static_cast<std::uint32_t>(type), *size, bytes.size())});
  }
  return type;
}

Result<GpaDirectPacket, ParseError> parse_gpa_direct(std::span<const std::byte> packet,
                                                     const GpaDirectLimits& limits) {
  auto head = parse_struct<GpaDirectHeader>(packet);
  if (!head.ok()) return Err(std::move(head.error()));
  const VmpacketDescriptor d = head->d;
  if (d.type != static_cast<std::uint16_t>(PacketType::kDataUsingGpaDirect)) {
    return Err(ParseError{fmt::format("packet type {} is not GPA-direct", d.type)});
  }
  const std::uint64_t header_end = std::uint64_t{d.offset8} * 8;
  const std::uint64_t packet_end = std::uint64_t{d.len8} * 8;
  if (packet_end != packet.size()) {
    return Err(ParseError{fmt::format("len8 says {} bytes, packet has {}", packet_end,
                                      packet.size())});
  }
  if (header_end < sizeof(GpaDirectHeader) || header_end > packet_end) {
    return Err(ParseError{fmt::format("offset8 {} outside [{}, {}] bytes", header_end,
                                      sizeof(GpaDirectHeader), packet_end)});
  }
  const std::uint32_t count = head->range_count;
  if (count == 0 || count > limits.max_ranges) {
    return Err(ParseError{fmt::format("range count {} not in 1..{}", count, limits.max_ranges)});
  }
  GpaDirectPacket out{d, {}, packet.subspan(header_end)};
  out.ranges.reserve(count);
  std::uint64_t cursor = sizeof(GpaDirectHeader);
  std::uint64_t total_pages = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (cursor + sizeof(GpaRange) > header_end) {
      return Err(ParseError{fmt::format("range {} header runs past offset8", i)});
    }
    GpaRange r;
    std::memcpy(&r, packet.data() + cursor, sizeof r);
    cursor += sizeof r;
    if (r.byte_count == 0) return Err(ParseError{fmt::format("range {} is empty", i)});
    if (r.byte_offset >= 4096) {
      return Err(ParseError{fmt::format("range {} offset {} not inside the first page", i,
                                        r.byte_offset)});
    }
    const std::uint64_t pages = pages_spanned(r.byte_offset, r.byte_count);
    if (pages > limits.max_total_pages - total_pages) {
      return Err(ParseError{fmt::format("range {} brings the page count over {}", i,
                                        limits.max_total_pages)});
    }
    total_pages += pages;
    if (pages * 8 > header_end - cursor) {
      return Err(ParseError{fmt::format("range {} page list runs past offset8", i)});
    }
    ParsedGpaRange pr{r.byte_count, r.byte_offset, std::vector<std::uint64_t>(pages)};
    std::memcpy(pr.pfns.data(), packet.data() + cursor, pages * 8);
    cursor += pages * 8;
    out.ranges.push_back(std::move(pr));
  }
  return out;
}

}  // namespace vscsim::wire

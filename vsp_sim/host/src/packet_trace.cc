#include "vscsim/host/packet_trace.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "vscsim/devices/device.h"
#include "vscsim/wire/channel_messages.h"
#include "vscsim/wire/packet.h"
#include "vscsim/wire/parse.h"

namespace vscsim::host {

namespace {

using wire::ChannelMessageType;

std::string_view packet_type_name(std::uint32_t type) {
  switch (static_cast<wire::PacketType>(type)) {
    case wire::PacketType::kDataInband: return "inband";
    case wire::PacketType::kDataUsingXferPages: return "xfer_pages";
    case wire::PacketType::kDataUsingGpaDirect: return "gpa_direct";
    case wire::PacketType::kCompletion: return "completion";
    default: return "other";
  }
}

std::string_view message_type_name(std::uint32_t type) {
  switch (static_cast<ChannelMessageType>(type)) {
    case ChannelMessageType::kOfferChannel: return "offer";
    case ChannelMessageType::kRescindChannelOffer: return "rescind";
    case ChannelMessageType::kRequestOffers: return "request_offers";
    case ChannelMessageType::kAllOffersDelivered: return "all_offers_delivered";
    case ChannelMessageType::kOpenChannel: return "open";
    case ChannelMessageType::kOpenChannelResult: return "open_result";
    case ChannelMessageType::kCloseChannel: return "close";
    case ChannelMessageType::kGpadlHeader: return "gpadl_header";
    case ChannelMessageType::kGpadlBody: return "gpadl_body";
    case ChannelMessageType::kGpadlCreated: return "gpadl_created";
    case ChannelMessageType::kGpadlTeardown: return "gpadl_teardown";
    case ChannelMessageType::kGpadlTorndown: return "gpadl_torndown";
    case ChannelMessageType::kRelidReleased: return "relid_released";
    case ChannelMessageType::kInitiateContact: return "initiate_contact";
    case ChannelMessageType::kVersionResponse: return "version_response";
    case ChannelMessageType::kUnload: return "unload";
    case ChannelMessageType::kUnloadResponse: return "unload_response";
    default: return "other";
  }
}

template <class Msg>
std::optional<std::uint32_t> relid_of(std::span<const std::byte> message) {
  auto m = wire::parse_struct<Msg>(message);
  if (!m.ok()) return std::nullopt;
  return m->child_relid;
}

}  // namespace

std::string_view name(TraceEvent::Kind kind) {
  switch (kind) {
    case TraceEvent::Kind::kGuestPacket: return "guest_packet";
    case TraceEvent::Kind::kHostPacket: return "host_packet";
    case TraceEvent::Kind::kGuestMessage: return "guest_message";
    case TraceEvent::Kind::kHostMessage: return "host_message";
    case TraceEvent::Kind::kHostFault: return "host_fault";
  }
  return "?";
}

std::optional<std::uint32_t> message_relid(std::span<const std::byte> message) {
  auto header = wire::parse_struct<wire::ChannelMessageHeader>(message);
  if (!header.ok()) return std::nullopt;
  switch (static_cast<ChannelMessageType>(header->msgtype)) {
    case ChannelMessageType::kOfferChannel: return relid_of<wire::OfferChannelMsg>(message);
    case ChannelMessageType::kRescindChannelOffer: return relid_of<wire::RescindOfferMsg>(message);
    case ChannelMessageType::kOpenChannel: return relid_of<wire::OpenChannelMsg>(message);
    case ChannelMessageType::kOpenChannelResult: return relid_of<wire::OpenResultMsg>(message);
    case ChannelMessageType::kCloseChannel: return relid_of<wire::CloseChannelMsg>(message);
    case ChannelMessageType::kGpadlHeader: return relid_of<wire::GpadlHeaderMsg>(message);
    case ChannelMessageType::kGpadlCreated: return relid_of<wire::GpadlCreatedMsg>(message);
    case ChannelMessageType::kGpadlTeardown: return relid_of<wire::GpadlTeardownMsg>(message);
    case ChannelMessageType::kRelidReleased: return relid_of<wire::RelidReleasedMsg>(message);
    default: return std::nullopt;
  }
}

PacketTrace::PacketTrace(std::size_t capacity)
    : capacity_(capacity == 0 ? 1 : capacity), epoch_(Clock::now()) {}

std::uint64_t PacketTrace::now_ns() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - epoch_).count());
}

void PacketTrace::record(TraceEvent event) {
  if (events_.size() == capacity_) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(event);
}

void PacketTrace::record_message(TraceEvent::Kind kind, std::span<const std::byte> message) {
  TraceEvent e;
  e.t_ns = now_ns();
  e.kind = kind;
  e.length = static_cast<std::uint32_t>(message.size());
  if (auto header = wire::parse_struct<wire::ChannelMessageHeader>(message); header.ok()) {
    e.type = static_cast<std::uint32_t>(header->msgtype);
  }
  e.relid = message_relid(message).value_or(0);
  record(e);
}

void PacketTrace::clear() {
  events_.clear();
  dropped_ = 0;
  epoch_ = Clock::now();
}

std::string PacketTrace::to_json_lines() const {
  std::string out;
  out.reserve(events_.size() * 128);
  for (const TraceEvent& e : events_) {
    const bool packet = e.kind == TraceEvent::Kind::kGuestPacket || e.kind == TraceEvent::Kind::kHostPacket;
    const bool fault = e.kind == TraceEvent::Kind::kHostFault;
    const std::string_view type_name = fault    ? devices::name(static_cast<devices::HostFault>(e.type))
                                       : packet ? packet_type_name(e.type)
                                                : message_type_name(e.type);
    fmt::format_to(std::back_inserter(out),
                   R"({{"t_ns":{},"kind":"{}","relid":{},"type":{},"type_name":"{}","flags":{},"trans_id":{},"length":{})",
                   e.t_ns, name(e.kind), e.relid, e.type, type_name, e.flags, e.trans_id, e.length);
    if (fault) fmt::format_to(std::back_inserter(out), R"(,"fault":"{}","arg":{})", type_name, e.arg);
    out += "}\n";
  }
  fmt::format_to(std::back_inserter(out), R"({{"end":true,"events":{},"dropped":{}}})"
                                          "\n",
                 events_.size(), dropped_);
  return out;
}

Result<void, std::string> PacketTrace::write_json_lines(const std::string& path) const {
  const std::string tmp = path + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Err(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    const std::string text = to_json_lines();
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) return Err(fmt::format("cannot write {}", tmp));
  }
  // Whole or not at all: a reader never sees half a trace.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Err(fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno)));
  }
  return {};
}

}  // namespace vscsim::host

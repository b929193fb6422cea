#include "vscsim/devices/keyboard.h"

#include <fmt/format.h>

#include <cstring>
#include <ostream>

#include "vscsim/base/log.h"

namespace vscsim::devices {

std::string_view name(KeyboardState state) {
  switch (state) {
    case KeyboardState::kClosed: return "closed";
    case KeyboardState::kOpen: return "open";
    case KeyboardState::kNegotiated: return "negotiated";
    case KeyboardState::kRefused: return "refused";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, KeyboardState state) { return os << name(state); }

Keyboard::Keyboard(wire::Guid instance) : instance_(instance) {}

wire::Guid Keyboard::default_interface() {
  // HV_KBD_GUID; Debian's hyperv-keyboard.ko carries alias
  // vmbus:6dad12f9172bea48bd65f927a61c7684, the same GUID in guid_t byte order.
  return *wire::Guid::parse("f912ad6d-2b17-48ea-bd65-f927a61c7684");
}

wire::Guid Keyboard::default_instance() {
  return *wire::Guid::parse("d34b2567-b9b6-42b9-8778-0a4ec0b95500");
}

void Keyboard::open(ChannelPort& port) {
  port_ = &port;
  state_ = KeyboardState::kOpen;
}

void Keyboard::close() {
  port_ = nullptr;
  state_ = KeyboardState::kClosed;
}

void Keyboard::packet(const ring::PacketView& packet) {
  // Don't trust guest data: the payload's length and type are checked before
  // any field is used; fields are copied out, never referenced in place.
  if (packet.descriptor.type != static_cast<std::uint16_t>(wire::PacketType::kDataInband)) {
    ++bad_packets_;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "keyboard: ignored packet of type {}",
                           packet.descriptor.type);
    return;
  }
  const auto payload = packet.payload();
  std::uint32_t type = 0;
  if (payload.size() < sizeof type) {
    ++bad_packets_;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "keyboard: {}-byte message has no type",
                           payload.size());
    return;
  }
  std::memcpy(&type, payload.data(), sizeof type);
  if (type != kbd::kProtocolRequest) {
    // LED indicators and anything newer: the model has no LEDs to set.
    if (type != kbd::kLedIndicators) {
      ++bad_packets_;
      VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "keyboard: unknown message type {}", type);
    }
    return;
  }
  if (payload.size() < sizeof(kbd::ProtocolRequest)) {
    ++bad_packets_;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "keyboard: protocol request of {} bytes",
                           payload.size());
    return;
  }
  kbd::ProtocolRequest request{};
  std::memcpy(&request, payload.data(), sizeof request);
  const bool accepted = request.version == kbd::kVersion1_0;
  const kbd::ProtocolResponse response{kbd::kProtocolResponse,
                                       accepted ? kbd::kProtocolAccepted : 0u};
  ++negotiations_;
  if (port_ == nullptr) return;
  // The answer is a message of its own (in-band), not a completion packet:
  // the guest matches it by type, and host-initiated packets carry id 0.
  const SendStatus sent = port_->send(wire::PacketType::kDataInband, 0, 0,
                                      std::as_bytes(std::span(&response, 1)));
  if (sent != SendStatus::kOk) {
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "keyboard: protocol response not sent: {}",
                           name(sent));
    return;
  }
  state_ = accepted ? KeyboardState::kNegotiated : KeyboardState::kRefused;
  log::logf(log::Level::kInfo, "keyboard: guest asked for protocol {}.{}: {}",
            request.version >> 16, request.version & 0xffff, accepted ? "accepted" : "refused");
}

Result<void, std::string> Keyboard::send_keystroke(std::uint16_t make_code, std::uint32_t info) {
  const kbd::Keystroke ks{kbd::kEvent, make_code, 0, info};
  const SendStatus sent =
      port_->send(wire::PacketType::kDataInband, 0, 0, std::as_bytes(std::span(&ks, 1)));
  if (sent != SendStatus::kOk) return Err(fmt::format("keystroke not sent: ring {}", name(sent)));
  ++keys_sent_;
  return {};
}

Result<void, std::string> Keyboard::key(std::uint32_t scancode, KeyAction action) {
  if (state_ != KeyboardState::kNegotiated || port_ == nullptr) {
    return Err(fmt::format("keyboard is {}, not negotiated", name(state_)));
  }
  std::uint32_t prefix = 0;
  const std::uint32_t high = scancode >> 8;
  if (high == 0xe0) {
    prefix = kbd::kInfoE0;
  } else if (high == 0xe1) {
    prefix = kbd::kInfoE1;
  } else if (high != 0) {
    return Err(fmt::format("scancode {:#x} is not a set-1 make code (optionally 0xE0/0xE1-prefixed)",
                           scancode));
  }
  const auto make = static_cast<std::uint16_t>(scancode & 0x7f);
  if ((scancode & 0x80) != 0 || make == 0) {
    return Err(fmt::format("scancode {:#x}: make codes are 0x01..0x7f", scancode));
  }
  if (action != KeyAction::kUp) {
    if (auto r = send_keystroke(make, prefix); !r.ok()) return r;
  }
  if (action != KeyAction::kDown) {
    if (auto r = send_keystroke(make, prefix | kbd::kInfoBreak); !r.ok()) return r;
  }
  return {};
}

std::string Keyboard::describe() const {
  return fmt::format("kind=keyboard state={} negotiations={} keys={} bad_packets={}",
                     name(state_), negotiations_, keys_sent_, bad_packets_);
}

}  // namespace vscsim::devices

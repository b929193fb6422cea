// The interface between the host's channel plumbing and a device model.
//
// Life of a model, driven by the host event loop (vsp_sim/host), one thread:
//   open(port)      the guest opened the channel; the rings are mapped. The
//                   port stays valid until close() returns.
//   packet(p)       one packet the guest wrote into the guest-to-host ring,
//                   already copied out of shared memory and validated as a
//                   ring packet (its payload is still guest data: check it).
//   close()         the channel is closing (guest close, rescind, guest gone);
//                   no port any more.
// A model may also send on its own initiative between these calls (a host
// event such as a keystroke) through the port it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "vscsim/ring/ring.h"
#include "vscsim/wire/guid.h"
#include "vscsim/wire/packet.h"

namespace vscsim::devices {

enum class SendStatus {
  kOk,      // written; the host publishes it and signals by the ring rules
  kFull,    // the host-to-guest ring has no room now (nothing written)
  kClosed,  // the channel is not open, or its ring is broken
};
[[nodiscard]] std::string_view name(SendStatus status);

class ChannelPort {
 public:
  virtual ~ChannelPort() = default;
  // Writes one packet into the host-to-guest ring. The host commits the write
  // and signals the guest after the model returns (one signal per batch).
  [[nodiscard]] virtual SendStatus send(wire::PacketType type, std::uint16_t flags,
                                        std::uint64_t trans_id,
                                        std::span<const std::byte> payload) = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  // Short name used by --device and the control socket, e.g. "keyboard".
  [[nodiscard]] virtual std::string_view kind() const = 0;
  [[nodiscard]] virtual wire::Guid interface_type() const = 0;
  [[nodiscard]] virtual wire::Guid instance() const = 0;

  virtual void open(ChannelPort& port) = 0;
  virtual void packet(const ring::PacketView& packet) = 0;
  virtual void close() = 0;

  // One line of key=value words describing the model's state.
  [[nodiscard]] virtual std::string describe() const = 0;
};

}  // namespace vscsim::devices

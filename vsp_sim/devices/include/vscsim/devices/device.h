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
//
// Two hooks serve models that answer later than the packet that asked:
//   tick(now)       the host's time, at the start of every host pass over an
//                   open channel and before any packet of that pass, so a
//                   model may take `now` as the arrival time of the packets
//                   that follow. The host runs a pass no later than
//                   next_deadline() (give or take its loop period).
//   resume()        the host serviced the channel (the guest signalled it,
//                   e.g. after reading from a full host-to-guest ring): sends
//                   that found the ring kFull may be retried, before the
//                   packets of this pass are handed in.
// Time comes only through tick(): the host's clock is injectable, so tests
// drive time by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/memory/guest_memory.h"
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

using DeviceClock = std::chrono::steady_clock;

// A fault the host commits on purpose (a control command or a fault rule
// asked for it), as opposed to a bug: recorded in the packet trace so a
// checker can tell the two apart. The names (name()) are stable: the harness
// reads them. The values are the trace event's `type`.
enum class HostFault : std::uint8_t {
  kDropCompletion = 1,        // a request was carried out and its completion never sent
  kDelayCompletion = 2,       // a completion held back for a while, sent later
  kDuplicateCompletion = 3,   // a completion sent twice
  kReorderCompletion = 4,     // a completion held until the channel's next one is sent
  kWrongId = 5,               // a completion sent with another id (zero, unknown, stale)
  kTruncateCompletion = 6,    // a completion sent with only the first bytes of its payload
  kCorruptCompletion = 7,     // a completion's payload byte or wire status changed
  kOversizeResponseLen = 8,   // a completion claiming more response bytes than any buffer
  kSprayInterrupts = 9,       // extra guest signals with nothing new in the ring
  kRescindInFlight = 10,      // the channel rescinded with N requests in flight
  kRescindOnClose = 11,       // the channel rescinded as the guest closed it
  kFailGpadl = 12,            // a GPADL_HEADER answered with a failure status
  kFailOpen = 13,             // an OPENCHANNEL answered with a failure status
  kStopDraining = 14,         // the guest-to-host ring left unread
  kWithholdInterrupt = 15,    // a guest signal not given
  kFlood = 16,                // a completion sent, then a flood of completions for ids not in flight begins
  kFloodEnd = 17,             // that flood ended (its time ran out, rules cleared, channel closed)
};
inline constexpr std::uint8_t kLastHostFault = 17;
[[nodiscard]] std::string_view name(HostFault fault);

class ChannelPort {
 public:
  virtual ~ChannelPort() = default;
  // Writes one packet into the host-to-guest ring. The host commits the write
  // and signals the guest after the model returns (one signal per batch).
  // kFull also asks the guest to signal once it has freed room for this
  // packet; the model then gets resume().
  [[nodiscard]] virtual SendStatus send(wire::PacketType type, std::uint16_t flags,
                                        std::uint64_t trans_id,
                                        std::span<const std::byte> payload) = 0;
  // The guest's RAM, for models that move data through pages a packet names
  // (GPA-direct ranges). Every access is checked by GuestMemory; what is read
  // is still guest data (copy out, then validate).
  [[nodiscard]] virtual const memory::GuestMemory& guest_memory() const = 0;
  // Records that the model committed `fault` on the request `trans_id`.
  // Ports that keep no record ignore it.
  virtual void fault(HostFault /*fault*/, std::uint64_t /*trans_id*/) {}
  // The model decoded the request `trans_id` as `operation` (one of its
  // operation_names()), before completing it: fault rules may match on it.
  virtual void name_operation(std::uint64_t /*trans_id*/, std::string_view /*operation*/) {}
};

// Where a model's completion payload keeps its fields, for host faults that
// change them (vsp_sim/host's fault engine). Offsets are of little-endian
// u32 fields in the payload of a VM_PKT_COMP.
struct CompletionLayout {
  std::uint32_t size = 0;                 // payload bytes of one completion
  std::uint32_t status_offset = 0;        // the wire status
  std::uint32_t response_len_offset = 0;  // the response length the guest is told
  std::uint32_t max_response_len = 0;     // no guest response buffer is larger
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

  // Timers and retries (see the top of this file); models without them keep
  // the defaults.
  [[nodiscard]] virtual std::optional<DeviceClock::time_point> next_deadline() const {
    return std::nullopt;
  }
  virtual void tick(DeviceClock::time_point /*now*/) {}
  virtual void resume() {}

  // Models that answer requests with VM_PKT_COMP packets say how those look;
  // nullopt (the default): the model sends no completions, and completion
  // faults are refused for it.
  [[nodiscard]] virtual std::optional<CompletionLayout> completion_layout() const {
    return std::nullopt;
  }
  // The operations the model names its requests by (ChannelPort::
  // name_operation); empty: none, and rules matching on one are refused.
  [[nodiscard]] virtual std::vector<std::string> operation_names() const { return {}; }
};

// The n-th instance GUID of a kind (n = 0 is `base` itself): the last byte of
// `base` plus n, so several devices of one kind get distinct, fixed instances.
[[nodiscard]] wire::Guid numbered_instance(wire::Guid base, std::uint8_t n);

}  // namespace vscsim::devices

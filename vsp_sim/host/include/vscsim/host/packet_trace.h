// The simulator's record of what crossed VMBus: every ring packet in both
// directions and every channel message, with the host's time. The harness's
// request-accounting checker reads it (each request completed exactly once,
// nothing sent on a rescinded channel), and a person reads it as a timeline
// (Chrome/Perfetto trace export in the harness).
//
// Bounded: the newest `capacity` events are kept; `dropped()` counts what
// fell out, so a checker can tell a complete trace from a truncated one.
// Single-threaded, like the session that records into it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"

namespace vscsim::host {

struct TraceEvent {
  enum class Kind : std::uint8_t {
    kGuestPacket,   // read from a guest-to-host ring
    kHostPacket,    // written into a host-to-guest ring
    kGuestMessage,  // channel message from the guest
    kHostMessage,   // channel message to the guest
    kHostFault,     // a fault the host committed on purpose (type: devices::HostFault)
  };
  std::uint64_t t_ns = 0;       // host steady clock, since the trace's epoch
  Kind kind = Kind::kGuestPacket;
  std::uint32_t relid = 0;      // 0: a message about no channel
  std::uint32_t type = 0;       // packet type, channel message type, or fault
  std::uint16_t flags = 0;      // packets only
  std::uint64_t trans_id = 0;   // packets, and faults on a request
  std::uint32_t length = 0;     // payload bytes (packets), message bytes
  std::uint64_t arg = 0;        // faults: the action's value (see vsp_sim/host/README.md)
};

[[nodiscard]] std::string_view name(TraceEvent::Kind kind);

class PacketTrace {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PacketTrace(std::size_t capacity = 1u << 18);

  void record(TraceEvent event);
  // A channel message: its type and, where the type names one, its relid.
  void record_message(TraceEvent::Kind kind, std::span<const std::byte> message);
  // Time since the epoch (construction or the last clear()).
  [[nodiscard]] std::uint64_t now_ns() const;

  [[nodiscard]] const std::deque<TraceEvent>& events() const { return events_; }
  [[nodiscard]] std::uint64_t dropped() const { return dropped_; }
  void clear();

  // One JSON object per line: {"t_ns":..,"kind":"guest_packet","relid":..,
  // "type":..,"type_name":"..","flags":..,"trans_id":..,"length":..}, then a
  // last line {"end":true,"events":N,"dropped":D}. A host fault's line has
  // kind "host_fault" and also "fault":"<name>" (e.g. "drop_completion",
  // the same as its type_name), the request's trans_id (0: none) and
  // "arg":<n>, the action's value (e.g. the id wrong_id sent instead).
  [[nodiscard]] std::string to_json_lines() const;
  Result<void, std::string> write_json_lines(const std::string& path) const;

 private:
  std::size_t capacity_;
  Clock::time_point epoch_;
  std::deque<TraceEvent> events_;
  std::uint64_t dropped_ = 0;
};

// The relid a channel message is about (nullopt for types without one, or a
// message too short for its type).
[[nodiscard]] std::optional<std::uint32_t> message_relid(std::span<const std::byte> message);

}  // namespace vscsim::host

// The simulator's fault engine: rules a control command adds
// (control.proto FaultRule, the text command `fault`), each a match part and
// one action, consulted by the Session where packets and messages pass:
//
//   class        consulted when                         actions
//   completion   a device model sends a packet          drop, delay_ms, duplicate,
//                (default: VM_PKT_COMP only)            reorder, wrong_id, truncate,
//                                                       corrupt, oversize_response_len,
//                                                       spray_interrupts, flood_ms
//   in-flight    a request arrives from the guest       rescind_after_in_flight
//   close        the guest sends CLOSECHANNEL           rescind_on_close
//   gpadl        the guest sends GPADL_HEADER           fail_gpadl
//   open         the guest sends OPENCHANNEL            fail_open
//   window       a ring drain / a guest signal          stop_draining, withhold_interrupts
//
// Matching (every class but window): a rule fits a packet or event if its
// relid is 0 or the channel's, its trans_id (if set) is the packet's, and its
// packet_type (if set; completion rules default to VM_PKT_COMP) is the
// packet's. A completion rule's operation (if set) is checked by the Session
// (the `fits` of select()) against the name the device model gave the request. Every rule that fits counts the packet (`seen`); the oldest rule
// whose first `after` fitting packets have passed and whose `count` is not
// spent (0: no limit) acts on it (`hits`): one action per packet, rules in
// the order they were added. Window rules act from their first use for `ms`
// milliseconds (0: until cleared); `after` and `count` do not apply to them.
//
// Deterministic: no randomness and no wall-clock reads; time comes from the
// session's (injectable) clock. Single-threaded, like the session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/control.pb.h"
#include "vscsim/devices/device.h"

namespace vscsim::host {

enum class FaultClass : std::uint8_t {
  kCompletion,
  kInFlight,
  kClose,
  kGpadl,
  kOpen,
  kStopDraining,
  kWithholdInterrupts,
};

using FaultAction = control::FaultRule::ActionCase;

// The class an action belongs to (see the table above).
[[nodiscard]] FaultClass fault_class(FaultAction action);
// The action's name: its FaultRule field name ("drop", "delay_ms", ...), the
// word the text command `fault` takes. Empty for ACTION_NOT_SET.
[[nodiscard]] std::string_view action_name(FaultAction action);
// The action a name names; ACTION_NOT_SET if none.
[[nodiscard]] FaultAction action_named(std::string_view name);
// The trace event an action records when it acts.
[[nodiscard]] devices::HostFault host_fault(FaultAction action);

class FaultEngine {
 public:
  static constexpr std::size_t kMaxRules = 256;
  // A flood longer than this would outlast any scenario's deadline.
  static constexpr std::uint32_t kMaxFloodMs = 600000;

  struct Rule {
    std::uint64_t id = 0;
    control::FaultRule rule;
    std::uint64_t seen = 0;
    std::uint64_t hits = 0;
    bool spent = false;  // count reached, or its window ended
    std::optional<devices::DeviceClock::time_point> started;  // window rules
  };

  // Checks what needs no device (an action is set, values in range; see
  // Host for the per-device checks) and adds the rule; its id (from 1).
  Result<std::uint64_t, std::string> add(const control::FaultRule& rule);
  // Removes the rules of `relid` (0: all); how many went.
  std::size_t clear(std::uint32_t relid);

  // The rule of `cls` that acts on this packet or event on `relid`, if any
  // (see the top of this file). `fits` narrows the match further (e.g. the
  // in-flight count). With `apply` the rules' seen/hits counters move; a
  // caller that may have to undo the action (the ring was full) asks first
  // without, then again with apply once the action took effect.
  Rule* select(FaultClass cls, std::uint32_t relid, std::uint64_t trans_id, std::uint32_t type,
               bool apply, const std::function<bool(const control::FaultRule&)>& fits = {});
  // Whether a window rule of `cls` acts on `relid` at `now`. With `use`, the
  // rule's window starts (if it has not) and a hit is counted. A window that
  // has ended marks its rule spent.
  Rule* window(FaultClass cls, std::uint32_t relid, devices::DeviceClock::time_point now,
               bool use);
  // The earliest end of a started window (the session polls then).
  [[nodiscard]] std::optional<devices::DeviceClock::time_point> next_window_end() const;

  [[nodiscard]] const std::vector<Rule>& rules() const { return rules_; }
  [[nodiscard]] bool empty() const { return rules_.empty(); }
  // Fills `out` with the rules of `relid` (every rule if nullopt).
  void list(std::optional<std::uint32_t> relid,
            google::protobuf::RepeatedPtrField<control::ActiveFault>& out) const;

 private:
  std::vector<Rule> rules_;
  std::uint64_t next_id_ = 1;
};

// One line for a person: "#<id> <action> relid=<r> [<values>] [after=..]
// [count=..] [id=..] [type=..] hits=<h>[ spent]".
[[nodiscard]] std::string describe(const FaultEngine::Rule& rule);

}  // namespace vscsim::host

#include "vscsim/devices/device.h"

namespace vscsim::devices {

std::string_view name(SendStatus status) {
  switch (status) {
    case SendStatus::kOk: return "ok";
    case SendStatus::kFull: return "full";
    case SendStatus::kClosed: return "closed";
  }
  return "?";
}

std::string_view name(HostFault fault) {
  switch (fault) {
    case HostFault::kDropCompletion: return "drop_completion";
    case HostFault::kDelayCompletion: return "delay_completion";
    case HostFault::kDuplicateCompletion: return "duplicate_completion";
    case HostFault::kReorderCompletion: return "reorder_completion";
    case HostFault::kWrongId: return "wrong_id";
    case HostFault::kTruncateCompletion: return "truncate_completion";
    case HostFault::kCorruptCompletion: return "corrupt_completion";
    case HostFault::kOversizeResponseLen: return "oversize_response_len";
    case HostFault::kSprayInterrupts: return "spray_interrupts";
    case HostFault::kRescindInFlight: return "rescind_in_flight";
    case HostFault::kRescindOnClose: return "rescind_on_close";
    case HostFault::kFailGpadl: return "fail_gpadl";
    case HostFault::kFailOpen: return "fail_open";
    case HostFault::kStopDraining: return "stop_draining";
    case HostFault::kWithholdInterrupt: return "withhold_interrupt";
    case HostFault::kFlood: return "flood";
    case HostFault::kFloodEnd: return "flood_end";
  }
  return "?";
}

wire::Guid numbered_instance(wire::Guid base, std::uint8_t n) {
  base.bytes[15] = static_cast<std::uint8_t>(base.bytes[15] + n);
  return base;
}

}  // namespace vscsim::devices

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
  }
  return "?";
}

wire::Guid numbered_instance(wire::Guid base, std::uint8_t n) {
  base.bytes[15] = static_cast<std::uint8_t>(base.bytes[15] + n);
  return base;
}

}  // namespace vscsim::devices

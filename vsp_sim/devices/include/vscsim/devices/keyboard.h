// The Hyper-V synthetic keyboard, as Linux's hyperv-keyboard driver expects
// its host to behave (facts in README.md).
//
// Protocol states:
//   kClosed       channel not open (initially, after close)
//   kOpen         channel open, no protocol request yet
//   kNegotiated   the guest asked for version 1.0 and was accepted; keystrokes
//                 may be sent
//   kRefused      the guest asked for another version and was refused; the
//                 guest driver fails its probe and closes
// A second protocol request re-runs the negotiation (the driver does so on
// resume). Malformed guest packets are counted and logged rate-limited; they
// never change the state.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"
#include "vscsim/devices/device.h"

namespace vscsim::devices {

namespace kbd {
inline constexpr std::uint32_t kProtocolRequest = 1;
inline constexpr std::uint32_t kProtocolResponse = 2;
inline constexpr std::uint32_t kEvent = 3;
inline constexpr std::uint32_t kLedIndicators = 4;
inline constexpr std::uint32_t kVersion1_0 = (1u << 16) | 0u;
inline constexpr std::uint32_t kProtocolAccepted = 1u << 0;
inline constexpr std::uint32_t kInfoUnicode = 1u << 0;
inline constexpr std::uint32_t kInfoBreak = 1u << 1;
inline constexpr std::uint32_t kInfoE0 = 1u << 2;
inline constexpr std::uint32_t kInfoE1 = 1u << 3;

// Wire layouts (little-endian; the simulator only builds on little-endian hosts).
struct ProtocolRequest {
  std::uint32_t type;
  std::uint32_t version;
};
struct ProtocolResponse {
  std::uint32_t type;
  std::uint32_t status;
};
struct Keystroke {
  std::uint32_t type;
  std::uint16_t make_code;
  std::uint16_t reserved;
  std::uint32_t info;
};
static_assert(sizeof(ProtocolRequest) == 8);
static_assert(sizeof(ProtocolResponse) == 8);
static_assert(sizeof(Keystroke) == 12);
}  // namespace kbd

enum class KeyboardState { kClosed, kOpen, kNegotiated, kRefused };
[[nodiscard]] std::string_view name(KeyboardState state);
std::ostream& operator<<(std::ostream& os, KeyboardState state);

enum class KeyAction { kDown, kUp, kPress };  // press = down, then up

class Keyboard final : public Device {
 public:
  // The instance GUID distinguishes several keyboards; the default is fixed so
  // runs are reproducible.
  explicit Keyboard(wire::Guid instance = default_instance());
  static wire::Guid default_interface();
  static wire::Guid default_instance();

  [[nodiscard]] std::string_view kind() const override { return "keyboard"; }
  [[nodiscard]] wire::Guid interface_type() const override { return default_interface(); }
  [[nodiscard]] wire::Guid instance() const override { return instance_; }

  void open(ChannelPort& port) override;
  void packet(const ring::PacketView& packet) override;
  void close() override;
  [[nodiscard]] std::string describe() const override;

  // Sends a keystroke. `scancode` is a set-1 make code; 0xE0xx or 0xE1xx
  // selects the E0/E1 prefix. Fails (with why) unless negotiated, or if the
  // ring is full.
  [[nodiscard]] Result<void, std::string> key(std::uint32_t scancode, KeyAction action);

  [[nodiscard]] KeyboardState state() const { return state_; }
  [[nodiscard]] std::uint64_t keys_sent() const { return keys_sent_; }
  [[nodiscard]] std::uint64_t bad_packets() const { return bad_packets_; }
  [[nodiscard]] std::uint32_t negotiations() const { return negotiations_; }

 private:
  Result<void, std::string> send_keystroke(std::uint16_t make_code, std::uint32_t info);

  wire::Guid instance_;
  ChannelPort* port_ = nullptr;
  KeyboardState state_ = KeyboardState::kClosed;
  std::uint32_t negotiations_ = 0;
  std::uint64_t keys_sent_ = 0;
  std::uint64_t bad_packets_ = 0;
};

}  // namespace vscsim::devices

// The channel server's states and its transition table.
//
// Connection states:
//
//   state            | meaning
//   -----------------+------------------------------------------------------------
//   kDisconnected    | no protocol version agreed: initially, after a refused
//                    | version (the guest retries with an older one), after UNLOAD
//   kConnected       | INITIATE_CONTACT accepted (VERSION_RESPONSE supported=1);
//                    | no offers sent yet
//   kOffersDelivered | REQUESTOFFERS answered with every offer and
//                    | ALLOFFERS_DELIVERED; devices added later are offered at once
//
// UNLOAD completes synchronously (channels closed, GPADLs dropped,
// UNLOAD_RESPONSE posted) so there is no observable "Unloading" state.
//
// Channel states (one per relid the host holds):
//
//   state        | meaning
//   -------------+----------------------------------------------------------------
//   kUnoffered   | registered by the host, not offered to the guest (not yet
//                | connected, or after UNLOAD); invisible to the guest
//   kOffered     | OFFERCHANNEL sent; not open (never opened, open refused, or
//                | closed). GPADLs may be created and torn down
//   kOpening     | OPENCHANNEL accepted, result held back by the hold_next_open
//                | fault until the host calls complete_open(); ring GPADL in use
//   kOpen        | OPENCHANNEL_RESULT(success) sent; ring GPADL in use, ring data
//                | exposed for the ring library
//   kRevokedOpen | RESCIND_CHANNELOFFER sent while Opening or Open; the guest will
//                | CLOSECHANNEL (or, if it never saw the open succeed, just release)
//   kRevoked     | rescinded and not open; waiting for RELID_RELEASED
//   kReleased    | RELID_RELEASED received; the relid may now be reoffered
//                | (same device) or removed (then reused by a new device)
//   kRemoved     | pseudo-state: the entry is erased and its relid is free
//
// Every (state, event) pair not in kChannelTransitions is rejected: a guest
// message is counted as a protocol error and changes nothing; a host call
// returns HostError.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace vscsim::server {

enum class ConnectionState { kDisconnected, kConnected, kOffersDelivered };

enum class ChannelState {
  kUnoffered,
  kOffered,
  kOpening,
  kOpen,
  kRevokedOpen,
  kRevoked,
  kReleased,
  kRemoved,
};

enum class ChannelEvent {
  kOffer,          // host: OFFERCHANNEL sent (REQUESTOFFERS, hot add, reoffer)
  kOpenAccepted,   // guest OPENCHANNEL valid; success result sent
  kOpenHeld,       // guest OPENCHANNEL valid; result held (fault)
  kOpenRefused,    // OPENCHANNEL invalid or failed by a fault; failure result sent
  kOpenCompleted,  // host complete_open(success)
  kOpenAborted,    // host complete_open(failure)
  kClose,          // guest CLOSECHANNEL
  kRescind,        // host: RESCIND_CHANNELOFFER sent
  kRelidReleased,  // guest RELID_RELEASED
  kUnload,         // guest UNLOAD
  kRemove,         // host removes the device
};

struct Transition {
  ChannelState from;
  ChannelEvent event;
  ChannelState to;
};

// The whole channel protocol, one row per allowed transition.
inline constexpr std::array kChannelTransitions{
    Transition{ChannelState::kUnoffered, ChannelEvent::kOffer, ChannelState::kOffered},
    Transition{ChannelState::kReleased, ChannelEvent::kOffer, ChannelState::kOffered},
    Transition{ChannelState::kOffered, ChannelEvent::kOpenAccepted, ChannelState::kOpen},
    Transition{ChannelState::kOffered, ChannelEvent::kOpenHeld, ChannelState::kOpening},
    Transition{ChannelState::kOffered, ChannelEvent::kOpenRefused, ChannelState::kOffered},
    Transition{ChannelState::kOpening, ChannelEvent::kOpenCompleted, ChannelState::kOpen},
    Transition{ChannelState::kOpening, ChannelEvent::kOpenAborted, ChannelState::kOffered},
    Transition{ChannelState::kOpen, ChannelEvent::kClose, ChannelState::kOffered},
    Transition{ChannelState::kRevokedOpen, ChannelEvent::kClose, ChannelState::kRevoked},
    Transition{ChannelState::kOffered, ChannelEvent::kRescind, ChannelState::kRevoked},
    Transition{ChannelState::kOpening, ChannelEvent::kRescind, ChannelState::kRevokedOpen},
    Transition{ChannelState::kOpen, ChannelEvent::kRescind, ChannelState::kRevokedOpen},
    Transition{ChannelState::kRevoked, ChannelEvent::kRelidReleased, ChannelState::kReleased},
    // Rescinded during open: Linux fails vmbus_open and releases without closing.
    Transition{ChannelState::kRevokedOpen, ChannelEvent::kRelidReleased, ChannelState::kReleased},
    // UNLOAD: live channels wait, unoffered, for the next connection; rescinded
    // ones are gone for good.
    Transition{ChannelState::kUnoffered, ChannelEvent::kUnload, ChannelState::kUnoffered},
    Transition{ChannelState::kOffered, ChannelEvent::kUnload, ChannelState::kUnoffered},
    Transition{ChannelState::kOpening, ChannelEvent::kUnload, ChannelState::kUnoffered},
    Transition{ChannelState::kOpen, ChannelEvent::kUnload, ChannelState::kUnoffered},
    Transition{ChannelState::kRevokedOpen, ChannelEvent::kUnload, ChannelState::kRemoved},
    Transition{ChannelState::kRevoked, ChannelEvent::kUnload, ChannelState::kRemoved},
    Transition{ChannelState::kReleased, ChannelEvent::kUnload, ChannelState::kRemoved},
    Transition{ChannelState::kUnoffered, ChannelEvent::kRemove, ChannelState::kRemoved},
    Transition{ChannelState::kReleased, ChannelEvent::kRemove, ChannelState::kRemoved},
};

// The target state, or nullopt if the table does not list (from, event).
[[nodiscard]] constexpr std::optional<ChannelState> next_state(ChannelState from,
                                                               ChannelEvent event) {
  for (const auto& t : kChannelTransitions) {
    if (t.from == from && t.event == event) return t.to;
  }
  return std::nullopt;
}

[[nodiscard]] std::string_view name(ConnectionState s);
[[nodiscard]] std::string_view name(ChannelState s);
[[nodiscard]] std::string_view name(ChannelEvent e);
std::ostream& operator<<(std::ostream& os, ConnectionState s);
std::ostream& operator<<(std::ostream& os, ChannelState s);
std::ostream& operator<<(std::ostream& os, ChannelEvent e);

}  // namespace vscsim::server

#include "vscsim/server/states.h"

#include <ostream>

namespace vscsim::server {

std::string_view name(ConnectionState s) {
  switch (s) {
    case ConnectionState::kDisconnected: return "Disconnected";
    case ConnectionState::kConnected: return "Connected";
    case ConnectionState::kOffersDelivered: return "OffersDelivered";
  }
  return "?";
}

std::string_view name(ChannelState s) {
  switch (s) {
    case ChannelState::kUnoffered: return "Unoffered";
    case ChannelState::kOffered: return "Offered";
    case ChannelState::kOpening: return "Opening";
    case ChannelState::kOpen: return "Open";
    case ChannelState::kRevokedOpen: return "RevokedOpen";
    case ChannelState::kRevoked: return "Revoked";
    case ChannelState::kReleased: return "Released";
    case ChannelState::kRemoved: return "Removed";
  }
  return "?";
}

std::string_view name(ChannelEvent e) {
  switch (e) {
    case ChannelEvent::kOffer: return "Offer";
    case ChannelEvent::kOpenAccepted: return "OpenAccepted";
    case ChannelEvent::kOpenHeld: return "OpenHeld";
    case ChannelEvent::kOpenRefused: return "OpenRefused";
    case ChannelEvent::kOpenCompleted: return "OpenCompleted";
    case ChannelEvent::kOpenAborted: return "OpenAborted";
    case ChannelEvent::kClose: return "Close";
    case ChannelEvent::kRescind: return "Rescind";
    case ChannelEvent::kRelidReleased: return "RelidReleased";
    case ChannelEvent::kUnload: return "Unload";
    case ChannelEvent::kRemove: return "Remove";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ConnectionState s) { return os << name(s); }
std::ostream& operator<<(std::ostream& os, ChannelState s) { return os << name(s); }
std::ostream& operator<<(std::ostream& os, ChannelEvent e) { return os << name(e); }

}  // namespace vscsim::server

// The VMBus channel server: the host's half of the channel-management
// protocol (CHANNELMSG_*), as a sans-IO state machine.
//
// It consumes guest-to-host channel messages as bytes (handle_message) and
// produces host-to-guest messages through a Notifier. It owns no sockets, no
// threads and no clock: the transport delivers mailbox messages to it, and a
// fault plan or test drives the host-side events (add_device, rescind,
// reoffer, complete_open) directly. One thread drives a Server.
//
// What it speaks (wire structs from vscsim_wire, semantics from Linux's
// drivers/hv/connection.c, channel.c, channel_mgmt.c):
//   INITIATE_CONTACT   -> VERSION_RESPONSE (supported = 1 if the version is in
//                         ServerConfig::versions, else 0 and the guest retries
//                         with an older one)
//   REQUESTOFFERS      -> OFFERCHANNEL per registered device, ALLOFFERS_DELIVERED
//   GPADL_HEADER/BODY  -> GPADL_CREATED once the announced pages are in
//   OPENCHANNEL        -> OPENCHANNEL_RESULT
//   CLOSECHANNEL       -> (no reply)
//   GPADL_TEARDOWN     -> GPADL_TORNDOWN (deferred while the GPADL is the ring
//                         of an Opening/Open channel, until CLOSECHANNEL)
//   RELID_RELEASED     -> (no reply) after a rescind: the relid becomes free
//   UNLOAD             -> UNLOAD_RESPONSE
//   host rescind()     -> RESCIND_CHANNELOFFER
//
// Error policy. A message the guest should not have sent (malformed, unknown
// type, wrong relid, wrong state, bad GPADL) is a ProtocolError: it is
// counted (Stats), logged rate-limited, and changes no state. Where the
// protocol has a status field the guest waits on (GPADL_CREATED,
// OPENCHANNEL_RESULT) the rejection is also answered with a failure status so
// a guest never waits forever for a host that silently refused. Control
// errors do not mark a channel broken: each message is validated whole before
// anything changes, so a rejected one leaves the channel exactly as it was,
// and the host stays usable (a sticky broken state belongs to the rings,
// whose shared indices cannot be un-corrupted). Messages that race a rescind
// (OPENCHANNEL, GPADL_HEADER/BODY for a channel the guest has not yet seen
// rescinded) are not errors: they are Ignored (no reply; the guest's rescind
// handling wakes its waiters), and counted separately.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/gpadl/gpadl.h"
#include "vscsim/gpadl/table.h"
#include "vscsim/memory/guest_memory.h"
#include "vscsim/server/states.h"
#include "vscsim/wire/channel_messages.h"
#include "vscsim/wire/guid.h"

namespace vscsim::server {

inline constexpr std::uint32_t kStatusSuccess = 0;
inline constexpr std::uint32_t kStatusUnsuccessful = 0xC0000001;  // NTSTATUS STATUS_UNSUCCESSFUL

// VMBUS_MESSAGE_CONNECTION_ID_4: the connection id a 5.0+ guest posts
// messages to, returned in VERSION_RESPONSE.msg_conn_id.
inline constexpr std::uint32_t kMessageConnectionId4 = 4;

// Versions the simulator agrees to, newest first. Why these: 5.0 and later
// carry the message SINT in INITIATE_CONTACT and the message connection id in
// VERSION_RESPONSE, and need no interrupt or monitor pages, which the ivshmem
// transport does not have. 5.3 is left out on purpose: it obliges the host to
// acknowledge MODIFYCHANNEL (MODIFYCHANNEL_RESPONSE), which this server does
// not implement, so a 6.1 guest (which asks 5.3 first) is refused once and
// settles on 5.2, exercising the retry path on every boot.
inline constexpr std::array kDefaultVersions{wire::kVersionWin10V5_2, wire::kVersionWin10V5_1,
                                             wire::kVersionWin10V5};

struct ServerConfig {
  std::vector<std::uint32_t> versions{kDefaultVersions.begin(), kDefaultVersions.end()};
  std::uint32_t msg_conn_id = kMessageConnectionId4;
  gpadl::Limits gpadl_limits{};
  // Relids handed out are 1..max_channels. Linux refuses relids >= 2048.
  std::uint32_t max_channels = 64;
};

// What the host offers: one VMBus device.
struct DeviceOffer {
  wire::Guid interface_type;
  wire::Guid instance;
  std::uint16_t chn_flags = 0;
  std::uint16_t mmio_megabytes = 0;
  std::array<std::uint8_t, wire::kMaxUserDefinedBytes> user_defined{};
};

// A channel's ring, once open: its GPADL pages and the split. Spans are valid
// until the next call into the Server.
struct RingInfo {
  std::uint32_t gpadl_handle;
  std::span<const memory::Pfn> pages;     // the whole ring GPADL
  std::uint32_t downstream_page_offset;   // first page of the host-to-guest ring
  std::uint32_t target_vp;
  std::uint32_t openid;
  std::array<std::uint8_t, wire::kMaxUserDefinedBytes> userdata;
};

// The server's only way out.
class Notifier {
 public:
  virtual ~Notifier() = default;
  // One host-to-guest channel message, whole (at most 240 bytes).
  virtual void post_message(std::span<const std::byte> message) = 0;
  // The channel's ring may be attached (OPENCHANNEL_RESULT success is posted
  // right after). The RingInfo spans are valid until channel_closing.
  virtual void channel_opened(std::uint32_t /*relid*/, const RingInfo& /*ring*/) {}
  // The ring is about to stop being usable (close, release, unload).
  virtual void channel_closing(std::uint32_t /*relid*/) {}
};

struct ProtocolError {
  enum class Kind {
    kMalformed,             // shorter than its type's fixed part, or over 240 bytes
    kUnknownType,           // a type this server does not know
    kWrongDirection,        // a host-to-guest type sent by the guest
    kWrongConnectionState,  // e.g. REQUESTOFFERS before INITIATE_CONTACT
    kUnknownRelid,          // no channel with that relid
    kWrongChannelState,     // (state, event) not in kChannelTransitions
    kGpadl,                 // GPADL validation failed (gpadl_kind says how)
    kBadOpen,               // OPENCHANNEL names an unusable ring GPADL or split
  };
  Kind kind;
  std::uint32_t relid = wire::kInvalidRelid;
  std::optional<gpadl::ErrorKind> gpadl_kind;
  std::string detail;

  [[nodiscard]] std::string describe() const;
};
[[nodiscard]] std::string_view name(ProtocolError::Kind kind);
std::ostream& operator<<(std::ostream& os, ProtocolError::Kind kind);

// The expected outcomes of a guest message.
struct Handled {
  wire::ChannelMessageType type;
  // True when the message raced a rescind and was dropped on purpose.
  bool ignored = false;
};

struct HostError {
  enum class Kind { kUnknownRelid, kWrongState, kNotConnected, kNoFreeRelid };
  Kind kind;
  std::string detail;
};

// Per-channel fault hooks (DESIGN.md section 7). Each "next" fault fires once.
struct ChannelFaults {
  std::optional<std::uint32_t> fail_next_open;   // OPENCHANNEL_RESULT status
  std::optional<std::uint32_t> fail_next_gpadl;  // GPADL_CREATED status; the GPADL is dropped
  bool hold_next_open = false;                   // stay Opening until complete_open()
};

struct Stats {
  std::uint64_t messages = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t ignored_after_rescind = 0;
  std::uint64_t gpadls_dropped_on_release = 0;
  std::map<ProtocolError::Kind, std::uint64_t> errors_by_kind;
};

class Server {
 public:
  Server(const memory::GuestMemory& memory, Notifier& notifier, ServerConfig config = {});

  // ---- guest to host ----
  // One channel message as the transport delivered it (copied out of shared
  // memory already). Never throws, never aborts on guest input.
  Result<Handled, ProtocolError> handle_message(std::span<const std::byte> message);

  // ---- host events ----
  // Registers a device and returns its relid (the lowest free one). Offered
  // at once if the guest already requested offers.
  Result<std::uint32_t, HostError> add_device(const DeviceOffer& offer);
  // Sends RESCIND_CHANNELOFFER. The relid stays taken until RELID_RELEASED.
  Result<void, HostError> rescind(std::uint32_t relid);
  // Offers a released channel again, with the same relid and GUIDs.
  Result<void, HostError> reoffer(std::uint32_t relid);
  // Drops an unoffered or released device; its relid becomes free.
  Result<void, HostError> remove_device(std::uint32_t relid);
  // Ends a held open (ChannelFaults::hold_next_open) with this status.
  Result<void, HostError> complete_open(std::uint32_t relid, std::uint32_t status);
  // The fault hooks of a channel; nullptr for an unknown relid. Valid until
  // the channel is removed.
  ChannelFaults* faults(std::uint32_t relid);

  // ---- queries ----
  [[nodiscard]] ConnectionState connection_state() const { return connection_; }
  [[nodiscard]] std::optional<std::uint32_t> version() const { return version_; }
  [[nodiscard]] std::optional<ChannelState> channel_state(std::uint32_t relid) const;
  [[nodiscard]] std::optional<RingInfo> ring(std::uint32_t relid) const;
  [[nodiscard]] const gpadl::Table* gpadls(std::uint32_t relid) const;
  [[nodiscard]] std::uint64_t channel_errors(std::uint32_t relid) const;
  [[nodiscard]] const Stats& stats() const { return stats_; }

 private:
  struct OpenParams {
    std::uint32_t gpadl_handle;
    std::uint32_t downstream_page_offset;
    std::uint32_t target_vp;
    std::uint32_t openid;
    std::array<std::uint8_t, wire::kMaxUserDefinedBytes> userdata;
  };
  struct Channel {
    DeviceOffer offer;
    ChannelState state = ChannelState::kUnoffered;
    gpadl::Table gpadls;
    std::optional<OpenParams> open;  // set in kOpening, kOpen, kRevokedOpen
    ChannelFaults faults;
    std::uint64_t errors = 0;
  };

  Result<Handled, ProtocolError> dispatch(wire::ChannelMessageType type,
                                          std::span<const std::byte> message);
  Result<Handled, ProtocolError> on_initiate_contact(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_request_offers(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_gpadl_header(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_gpadl_body(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_gpadl_teardown(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_open(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_close(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_relid_released(std::span<const std::byte> m);
  Result<Handled, ProtocolError> on_unload(std::span<const std::byte> m);

  // Looks the relid up and checks the connection has offers out.
  Result<Channel*, ProtocolError> channel_for(std::uint32_t relid, wire::ChannelMessageType type);
  // Applies `event` if the table lists it; the state is unchanged otherwise.
  bool apply(Channel& ch, ChannelEvent event);
  ProtocolError wrong_state(std::uint32_t relid, const Channel& ch, ChannelEvent event) const;
  Handled ignore(wire::ChannelMessageType type);
  // Stops using the ring: notifier, release of the ring GPADL. If that
  // completes a deferred teardown, GPADL_TORNDOWN is posted when
  // `post_torndown` (close); not on release or unload, where the guest waits
  // for none.
  void stop_ring(std::uint32_t relid, Channel& ch, bool post_torndown);
  void send_offer(std::uint32_t relid, Channel& ch);
  void gpadl_complete(std::uint32_t relid, Channel& c, std::uint32_t handle);
  void send_gpadl_created(std::uint32_t relid, std::uint32_t handle, std::uint32_t status);
  void send_torndown(std::uint32_t handle);
  void send_open_result(std::uint32_t relid, std::uint32_t openid, std::uint32_t status);
  RingInfo ring_info(const Channel& ch, const gpadl::Gpadl& g) const;
  template <class T>
  void post(const T& msg);

  const memory::GuestMemory& memory_;
  Notifier& notifier_;
  ServerConfig config_;
  ConnectionState connection_ = ConnectionState::kDisconnected;
  std::optional<std::uint32_t> version_;
  std::map<std::uint32_t, Channel> channels_;  // by relid
  Stats stats_;
};

}  // namespace vscsim::server

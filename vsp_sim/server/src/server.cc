#include "vscsim/server/server.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <ostream>

#include "vscsim/base/log.h"
#include "vscsim/gpadl/range.h"
#include "vscsim/wire/parse.h"

namespace vscsim::server {

namespace {

using wire::ChannelMessageType;
using Kind = ProtocolError::Kind;

ProtocolError perr(Kind kind, std::uint32_t relid, std::string detail) {
  return ProtocolError{kind, relid, std::nullopt, std::move(detail)};
}

ProtocolError from_gpadl(std::uint32_t relid, const gpadl::Error& e) {
  return ProtocolError{Kind::kGpadl, relid, e.kind, e.describe()};
}

bool guest_to_host(ChannelMessageType t) {
  switch (t) {
    case ChannelMessageType::kRequestOffers:
    case ChannelMessageType::kOpenChannel:
    case ChannelMessageType::kCloseChannel:
    case ChannelMessageType::kGpadlHeader:
    case ChannelMessageType::kGpadlBody:
    case ChannelMessageType::kGpadlTeardown:
    case ChannelMessageType::kRelidReleased:
    case ChannelMessageType::kInitiateContact:
    case ChannelMessageType::kUnload:
      return true;
    default:
      return false;
  }
}

// Copies the fixed part of a message of a type whose size was checked.
template <class T>
T copy_fixed(std::span<const std::byte> m) {
  T out;
  std::memcpy(&out, m.data(), sizeof(T));
  return out;
}

}  // namespace

std::string_view name(ProtocolError::Kind kind) {
  switch (kind) {
    case Kind::kMalformed: return "malformed";
    case Kind::kUnknownType: return "unknown type";
    case Kind::kWrongDirection: return "wrong direction";
    case Kind::kWrongConnectionState: return "wrong connection state";
    case Kind::kUnknownRelid: return "unknown relid";
    case Kind::kWrongChannelState: return "wrong channel state";
    case Kind::kGpadl: return "gpadl";
    case Kind::kBadOpen: return "bad open";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ProtocolError::Kind kind) { return os << name(kind); }

std::string ProtocolError::describe() const {
  if (relid == wire::kInvalidRelid) return fmt::format("{}: {}", name(kind), detail);
  return fmt::format("relid {}: {}: {}", relid, name(kind), detail);
}

Server::Server(const memory::GuestMemory& memory, Notifier& notifier, ServerConfig config)
    : memory_(memory), notifier_(notifier), config_(std::move(config)) {}

template <class T>
void Server::post(const T& msg) {
  static_assert(sizeof(T) <= wire::kMaxMessagePayload);
  notifier_.post_message(std::as_bytes(std::span(&msg, 1)));
}

// ---- guest to host ----

Result<Handled, ProtocolError> Server::handle_message(std::span<const std::byte> message) {
  ++stats_.messages;
  Result<Handled, ProtocolError> r = [&]() -> Result<Handled, ProtocolError> {
    // Don't trust guest data: size and type are checked before any field is read.
    if (message.size() > wire::kMaxMessagePayload) {
      return Err(perr(Kind::kMalformed, wire::kInvalidRelid,
                      fmt::format("{} bytes, over {}", message.size(), wire::kMaxMessagePayload)));
    }
    auto header = wire::parse_struct<wire::ChannelMessageHeader>(message);
    if (!header.ok()) {
      return Err(perr(Kind::kMalformed, wire::kInvalidRelid, header.error().reason));
    }
    const ChannelMessageType type = header->msgtype;
    const auto size = wire::channel_message_size(type);
    if (!size) {
      return Err(perr(Kind::kUnknownType, wire::kInvalidRelid,
                      fmt::format("type {}", static_cast<std::uint32_t>(type))));
    }
    if (!guest_to_host(type)) {
      return Err(perr(Kind::kWrongDirection, wire::kInvalidRelid,
                      fmt::format("type {} is host-to-guest", static_cast<std::uint32_t>(type))));
    }
    if (message.size() < *size) {
      return Err(perr(Kind::kMalformed, wire::kInvalidRelid,
                      fmt::format("type {} needs {} bytes, has {}",
                                  static_cast<std::uint32_t>(type), *size, message.size())));
    }
    return dispatch(type, message);
  }();
  if (!r.ok()) {
    const ProtocolError& e = r.error();
    ++stats_.protocol_errors;
    ++stats_.errors_by_kind[e.kind];
    if (auto it = channels_.find(e.relid); it != channels_.end()) ++it->second.errors;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "vmbus server: guest protocol error: {}",
                           e.describe());
  }
  return r;
}

Result<Handled, ProtocolError> Server::dispatch(ChannelMessageType type,
                                                std::span<const std::byte> m) {
  if (type != ChannelMessageType::kInitiateContact &&
      connection_ == ConnectionState::kDisconnected) {
    return Err(perr(Kind::kWrongConnectionState, wire::kInvalidRelid,
                    fmt::format("type {} before INITIATE_CONTACT",
                                static_cast<std::uint32_t>(type))));
  }
  switch (type) {
    case ChannelMessageType::kInitiateContact: return on_initiate_contact(m);
    case ChannelMessageType::kRequestOffers: return on_request_offers(m);
    case ChannelMessageType::kGpadlHeader: return on_gpadl_header(m);
    case ChannelMessageType::kGpadlBody: return on_gpadl_body(m);
    case ChannelMessageType::kGpadlTeardown: return on_gpadl_teardown(m);
    case ChannelMessageType::kOpenChannel: return on_open(m);
    case ChannelMessageType::kCloseChannel: return on_close(m);
    case ChannelMessageType::kRelidReleased: return on_relid_released(m);
    case ChannelMessageType::kUnload: return on_unload(m);
    default:
      return Err(perr(Kind::kUnknownType, wire::kInvalidRelid, "no handler"));
  }
}

Result<Handled, ProtocolError> Server::on_initiate_contact(std::span<const std::byte> m) {
  const auto msg = copy_fixed<wire::InitiateContactMsg>(m);
  if (connection_ != ConnectionState::kDisconnected) {
    return Err(perr(Kind::kWrongConnectionState, wire::kInvalidRelid,
                    fmt::format("INITIATE_CONTACT while {}", name(connection_))));
  }
  const std::uint32_t requested = msg.vmbus_version_requested;
  const bool supported = std::find(config_.versions.begin(), config_.versions.end(),
                                   requested) != config_.versions.end();
  wire::VersionResponseMsg resp{};
  resp.header.msgtype = ChannelMessageType::kVersionResponse;
  resp.version_supported = supported ? 1 : 0;
  resp.connection_state = 0;  // successful; the guest reads version_supported
  resp.msg_conn_id = supported ? config_.msg_conn_id : 0;
  if (supported) {
    connection_ = ConnectionState::kConnected;
    version_ = requested;
  }
  post(resp);
  return Handled{ChannelMessageType::kInitiateContact};
}

Result<Handled, ProtocolError> Server::on_request_offers(std::span<const std::byte>) {
  if (connection_ != ConnectionState::kConnected) {
    return Err(perr(Kind::kWrongConnectionState, wire::kInvalidRelid,
                    fmt::format("REQUESTOFFERS while {}", name(connection_))));
  }
  // Bounded by max_channels.
  for (auto& [relid, ch] : channels_) {
    if (ch.state == ChannelState::kUnoffered) send_offer(relid, ch);
  }
  wire::AllOffersDeliveredMsg done{};
  done.header.msgtype = ChannelMessageType::kAllOffersDelivered;
  post(done);
  connection_ = ConnectionState::kOffersDelivered;
  return Handled{ChannelMessageType::kRequestOffers};
}

Result<Server::Channel*, ProtocolError> Server::channel_for(std::uint32_t relid,
                                                            ChannelMessageType type) {
  if (connection_ != ConnectionState::kOffersDelivered) {
    return Err(perr(Kind::kWrongConnectionState, relid,
                    fmt::format("type {} before offers were requested",
                                static_cast<std::uint32_t>(type))));
  }
  const auto it = channels_.find(relid);
  if (it == channels_.end()) {
    return Err(perr(Kind::kUnknownRelid, relid, "no such channel"));
  }
  // An unoffered channel is invisible to the guest: as good as unknown.
  if (it->second.state == ChannelState::kUnoffered) {
    return Err(perr(Kind::kUnknownRelid, relid, "channel not offered"));
  }
  return &it->second;
}

bool Server::apply(Channel& ch, ChannelEvent event) {
  const auto to = next_state(ch.state, event);
  if (!to) return false;
  ch.state = *to;
  return true;
}

ProtocolError Server::wrong_state(std::uint32_t relid, const Channel& ch,
                                  ChannelEvent event) const {
  return perr(Kind::kWrongChannelState, relid,
              fmt::format("{} not allowed in {}", name(event), name(ch.state)));
}

Handled Server::ignore(ChannelMessageType type) {
  ++stats_.ignored_after_rescind;
  return Handled{type, true};
}

namespace {
bool is_revoked(ChannelState s) {
  return s == ChannelState::kRevoked || s == ChannelState::kRevokedOpen;
}
// States in which the guest may create GPADLs (netvsc creates buffers after open).
bool accepts_gpadls(ChannelState s) {
  return s == ChannelState::kOffered || s == ChannelState::kOpening || s == ChannelState::kOpen;
}
}  // namespace

Result<Handled, ProtocolError> Server::on_gpadl_header(std::span<const std::byte> m) {
  const auto fields = gpadl::read_header_fields(m);
  if (!fields.ok()) return Err(from_gpadl(wire::kInvalidRelid, fields.error()));
  const std::uint32_t relid = fields->child_relid;
  const std::uint32_t handle = fields->handle;
  auto ch = channel_for(relid, ChannelMessageType::kGpadlHeader);
  if (!ch.ok()) return Err(std::move(ch.error()));
  Channel& c = **ch;
  if (is_revoked(c.state)) return ignore(ChannelMessageType::kGpadlHeader);
  if (!accepts_gpadls(c.state)) {
    return Err(perr(Kind::kWrongChannelState, relid,
                    fmt::format("GPADL_HEADER in {}", name(c.state))));
  }
  // Handles are the guest's, connection-wide (Linux counts them globally); a
  // body names only the handle, so two live GPADLs may never share one.
  for (const auto& [other_relid, other] : channels_) {
    if (other_relid != relid && other.gpadls.contains(handle)) {
      send_gpadl_created(relid, handle, kStatusUnsuccessful);
      return Err(from_gpadl(relid, gpadl::Error{gpadl::ErrorKind::kHandleInUse, handle,
                                                fmt::format("held by relid {}", other_relid)}));
    }
  }
  auto p = c.gpadls.on_header(m, memory_.layout());
  if (!p.ok()) {
    send_gpadl_created(relid, handle, kStatusUnsuccessful);
    return Err(from_gpadl(relid, p.error()));
  }
  if (p->complete) gpadl_complete(relid, c, handle);
  return Handled{ChannelMessageType::kGpadlHeader};
}

// The last page of a GPADL arrived: answer GPADL_CREATED, or fail it once if
// the fault hook says so (the GPADL is then dropped).
void Server::gpadl_complete(std::uint32_t relid, Channel& c, std::uint32_t handle) {
  if (c.faults.fail_next_gpadl) {
    const std::uint32_t status = *c.faults.fail_next_gpadl;
    c.faults.fail_next_gpadl.reset();
    c.gpadls.discard(handle);
    send_gpadl_created(relid, handle, status);
  } else {
    send_gpadl_created(relid, handle, kStatusSuccess);
  }
}

Result<Handled, ProtocolError> Server::on_gpadl_body(std::span<const std::byte> m) {
  const auto fields = gpadl::read_body_fields(m);
  if (!fields.ok()) return Err(from_gpadl(wire::kInvalidRelid, fields.error()));
  const std::uint32_t handle = fields->handle;
  if (connection_ != ConnectionState::kOffersDelivered) {
    return Err(perr(Kind::kWrongConnectionState, wire::kInvalidRelid,
                    "GPADL_BODY before offers were requested"));
  }
  // A body names no channel: find the table holding the handle (bounded by
  // max_channels).
  auto it = std::find_if(channels_.begin(), channels_.end(),
                         [&](const auto& kv) { return kv.second.gpadls.contains(handle); });
  if (it == channels_.end()) {
    return Err(from_gpadl(wire::kInvalidRelid,
                          gpadl::Error{gpadl::ErrorKind::kUnknownGpadl, handle, "no such GPADL"}));
  }
  const std::uint32_t relid = it->first;
  Channel& c = it->second;
  if (is_revoked(c.state)) return ignore(ChannelMessageType::kGpadlBody);
  const bool was_assembling = c.gpadls.state(handle) == gpadl::State::kAssembling;
  auto p = c.gpadls.on_body(m, memory_.layout());
  if (!p.ok()) {
    // A half-built GPADL that failed is gone: tell the guest, which waits for it.
    if (was_assembling && !c.gpadls.contains(handle)) {
      send_gpadl_created(relid, handle, kStatusUnsuccessful);
    }
    return Err(from_gpadl(relid, p.error()));
  }
  if (p->complete) gpadl_complete(relid, c, handle);
  return Handled{ChannelMessageType::kGpadlBody};
}

Result<Handled, ProtocolError> Server::on_gpadl_teardown(std::span<const std::byte> m) {
  const auto msg = copy_fixed<wire::GpadlTeardownMsg>(m);
  const std::uint32_t relid = msg.child_relid;
  const std::uint32_t handle = msg.gpadl;
  auto ch = channel_for(relid, ChannelMessageType::kGpadlTeardown);
  if (!ch.ok()) return Err(std::move(ch.error()));
  Channel& c = **ch;
  // Allowed in every offered state, including after a rescind: the guest
  // cleans up before RELID_RELEASED, and GPADL_TORNDOWN for a rescinded
  // channel is harmless to it.
  if (c.state == ChannelState::kReleased) {
    return Err(perr(Kind::kWrongChannelState, relid, "GPADL_TEARDOWN after RELID_RELEASED"));
  }
  auto t = c.gpadls.teardown(handle);
  if (!t.ok()) return Err(from_gpadl(relid, t.error()));
  // kDeferred: the GPADL is the ring of an Opening/Open channel. The host
  // keeps using it and answers when CLOSECHANNEL releases it.
  if (*t == gpadl::TeardownOutcome::kDone) send_torndown(handle);
  return Handled{ChannelMessageType::kGpadlTeardown};
}

Result<Handled, ProtocolError> Server::on_open(std::span<const std::byte> m) {
  const auto msg = copy_fixed<wire::OpenChannelMsg>(m);
  const std::uint32_t relid = msg.child_relid;
  auto ch = channel_for(relid, ChannelMessageType::kOpenChannel);
  if (!ch.ok()) return Err(std::move(ch.error()));
  Channel& c = **ch;
  if (is_revoked(c.state)) return ignore(ChannelMessageType::kOpenChannel);
  if (c.state != ChannelState::kOffered) {
    // Opening/Open: a second open would disturb the live ring; no reply.
    return Err(wrong_state(relid, c, ChannelEvent::kOpenAccepted));
  }
  OpenParams params{msg.ringbuffer_gpadlhandle, msg.downstream_ringbuffer_pageoffset,
                    msg.target_vp, msg.openid, {}};
  std::memcpy(params.userdata.data(), msg.userdata, params.userdata.size());

  const gpadl::Gpadl* g = c.gpadls.find_ready(params.gpadl_handle);
  std::optional<ProtocolError> bad;
  if (g == nullptr) {
    bad = perr(Kind::kBadOpen, relid,
               fmt::format("ring GPADL {:#x} is not a ready GPADL of this channel",
                           params.gpadl_handle));
  } else if (auto split = gpadl::split_ring(*g, params.downstream_page_offset); !split.ok()) {
    bad = perr(Kind::kBadOpen, relid, split.error());
  }
  if (bad) {
    apply(c, ChannelEvent::kOpenRefused);
    send_open_result(relid, params.openid, kStatusUnsuccessful);
    return Err(std::move(*bad));
  }
  if (c.faults.fail_next_open) {
    const std::uint32_t status = *c.faults.fail_next_open;
    c.faults.fail_next_open.reset();
    apply(c, ChannelEvent::kOpenRefused);
    send_open_result(relid, params.openid, status);
    return Handled{ChannelMessageType::kOpenChannel};
  }
  // The ring GPADL is in use from here until close/release/unload.
  if (auto a = c.gpadls.acquire(params.gpadl_handle); !a.ok()) {
    return Err(from_gpadl(relid, a.error()));  // unreachable: find_ready succeeded
  }
  c.open = params;
  if (c.faults.hold_next_open) {
    c.faults.hold_next_open = false;
    apply(c, ChannelEvent::kOpenHeld);
    return Handled{ChannelMessageType::kOpenChannel};
  }
  apply(c, ChannelEvent::kOpenAccepted);
  notifier_.channel_opened(relid, ring_info(c, *g));
  send_open_result(relid, params.openid, kStatusSuccess);
  return Handled{ChannelMessageType::kOpenChannel};
}

Result<Handled, ProtocolError> Server::on_close(std::span<const std::byte> m) {
  const auto msg = copy_fixed<wire::CloseChannelMsg>(m);
  const std::uint32_t relid = msg.child_relid;
  auto ch = channel_for(relid, ChannelMessageType::kCloseChannel);
  if (!ch.ok()) return Err(std::move(ch.error()));
  Channel& c = **ch;
  if (!next_state(c.state, ChannelEvent::kClose)) {
    return Err(wrong_state(relid, c, ChannelEvent::kClose));
  }
  stop_ring(relid, c, /*post_torndown=*/true);
  apply(c, ChannelEvent::kClose);
  return Handled{ChannelMessageType::kCloseChannel};
}

Result<Handled, ProtocolError> Server::on_relid_released(std::span<const std::byte> m) {
  const auto msg = copy_fixed<wire::RelidReleasedMsg>(m);
  const std::uint32_t relid = msg.child_relid;
  auto ch = channel_for(relid, ChannelMessageType::kRelidReleased);
  if (!ch.ok()) return Err(std::move(ch.error()));
  Channel& c = **ch;
  if (!next_state(c.state, ChannelEvent::kRelidReleased)) {
    return Err(wrong_state(relid, c, ChannelEvent::kRelidReleased));
  }
  stop_ring(relid, c, /*post_torndown=*/false);
  // The guest is done with the relid: whatever GPADLs it left are dropped
  // (no GPADL_TORNDOWN: the guest no longer waits for any).
  stats_.gpadls_dropped_on_release += c.gpadls.clear();
  apply(c, ChannelEvent::kRelidReleased);
  return Handled{ChannelMessageType::kRelidReleased};
}

Result<Handled, ProtocolError> Server::on_unload(std::span<const std::byte>) {
  // connection_ is Connected or OffersDelivered here (dispatch checked).
  for (auto it = channels_.begin(); it != channels_.end();) {
    const std::uint32_t relid = it->first;
    Channel& c = it->second;
    stop_ring(relid, c, /*post_torndown=*/false);
    c.gpadls.clear();
    c.faults = ChannelFaults{};
    apply(c, ChannelEvent::kUnload);  // every state has an Unload row
    it = c.state == ChannelState::kRemoved ? channels_.erase(it) : std::next(it);
  }
  connection_ = ConnectionState::kDisconnected;
  version_.reset();
  wire::UnloadResponseMsg resp{};
  resp.header.msgtype = ChannelMessageType::kUnloadResponse;
  post(resp);
  return Handled{ChannelMessageType::kUnload};
}

// ---- helpers ----

void Server::stop_ring(std::uint32_t relid, Channel& ch, bool post_torndown) {
  if (!ch.open) return;
  const std::uint32_t handle = ch.open->gpadl_handle;
  ch.open.reset();
  notifier_.channel_closing(relid);
  if (ch.gpadls.release(handle) && post_torndown) send_torndown(handle);
}

RingInfo Server::ring_info(const Channel& ch, const gpadl::Gpadl& g) const {
  return RingInfo{ch.open->gpadl_handle, g.pfns(), ch.open->downstream_page_offset,
                  ch.open->target_vp, ch.open->openid, ch.open->userdata};
}

void Server::send_offer(std::uint32_t relid, Channel& ch) {
  wire::OfferChannelMsg o{};
  o.header.msgtype = ChannelMessageType::kOfferChannel;
  o.offer.if_type = ch.offer.interface_type;
  o.offer.if_instance = ch.offer.instance;
  o.offer.chn_flags = ch.offer.chn_flags;
  o.offer.mmio_megabytes = ch.offer.mmio_megabytes;
  std::memcpy(o.offer.user_defined, ch.offer.user_defined.data(), wire::kMaxUserDefinedBytes);
  o.offer.sub_channel_index = 0;
  o.child_relid = relid;
  o.monitorid = 0;
  o.monitor_flags = 0;  // no monitor pages: the guest signals with events
  o.interrupt_flags = 0;
  o.connection_id = relid;
  apply(ch, ChannelEvent::kOffer);
  post(o);
}

void Server::send_gpadl_created(std::uint32_t relid, std::uint32_t handle, std::uint32_t status) {
  wire::GpadlCreatedMsg r{};
  r.header.msgtype = ChannelMessageType::kGpadlCreated;
  r.child_relid = relid;
  r.gpadl = handle;
  r.creation_status = status;
  post(r);
}

void Server::send_torndown(std::uint32_t handle) {
  wire::GpadlTorndownMsg r{};
  r.header.msgtype = ChannelMessageType::kGpadlTorndown;
  r.gpadl = handle;
  post(r);
}

void Server::send_open_result(std::uint32_t relid, std::uint32_t openid, std::uint32_t status) {
  wire::OpenResultMsg r{};
  r.header.msgtype = ChannelMessageType::kOpenChannelResult;
  r.child_relid = relid;
  r.openid = openid;
  r.status = status;
  post(r);
}

// ---- host events ----

Result<std::uint32_t, HostError> Server::add_device(const DeviceOffer& offer) {
  // Lowest relid no entry holds: a rescinded relid stays taken until the
  // guest releases it and the host removes it.
  std::uint32_t relid = 1;
  for (const auto& kv : channels_) {  // ordered by relid; bounded by max_channels
    if (kv.first != relid) break;
    ++relid;
  }
  if (relid > config_.max_channels) {
    return Err(HostError{HostError::Kind::kNoFreeRelid,
                         fmt::format("all {} relids taken", config_.max_channels)});
  }
  Channel& ch = channels_.emplace(relid, Channel{offer, ChannelState::kUnoffered,
                                                 gpadl::Table(config_.gpadl_limits), {}, {}, 0})
                    .first->second;
  if (connection_ == ConnectionState::kOffersDelivered) send_offer(relid, ch);
  return relid;
}

Result<void, HostError> Server::rescind(std::uint32_t relid) {
  const auto it = channels_.find(relid);
  if (it == channels_.end()) return Err(HostError{HostError::Kind::kUnknownRelid, "no such relid"});
  Channel& c = it->second;
  if (!apply(c, ChannelEvent::kRescind)) {
    return Err(HostError{HostError::Kind::kWrongState,
                         fmt::format("rescind not allowed in {}", name(c.state))});
  }
  // A held open is dropped without a result: the guest's rescind handling
  // fails its vmbus_open. The ring GPADL stays in use until close or release.
  wire::RescindOfferMsg r{};
  r.header.msgtype = ChannelMessageType::kRescindChannelOffer;
  r.child_relid = relid;
  post(r);
  return {};
}

Result<void, HostError> Server::reoffer(std::uint32_t relid) {
  const auto it = channels_.find(relid);
  if (it == channels_.end()) return Err(HostError{HostError::Kind::kUnknownRelid, "no such relid"});
  if (connection_ != ConnectionState::kOffersDelivered) {
    return Err(HostError{HostError::Kind::kNotConnected, "guest has not requested offers"});
  }
  Channel& c = it->second;
  if (c.state != ChannelState::kReleased) {
    return Err(HostError{HostError::Kind::kWrongState,
                         fmt::format("reoffer needs Released, channel is {}", name(c.state))});
  }
  c.faults = ChannelFaults{};
  send_offer(relid, c);
  return {};
}

Result<void, HostError> Server::remove_device(std::uint32_t relid) {
  const auto it = channels_.find(relid);
  if (it == channels_.end()) return Err(HostError{HostError::Kind::kUnknownRelid, "no such relid"});
  if (!next_state(it->second.state, ChannelEvent::kRemove)) {
    return Err(HostError{HostError::Kind::kWrongState,
                         fmt::format("remove not allowed in {}", name(it->second.state))});
  }
  channels_.erase(it);
  return {};
}

Result<void, HostError> Server::complete_open(std::uint32_t relid, std::uint32_t status) {
  const auto it = channels_.find(relid);
  if (it == channels_.end()) return Err(HostError{HostError::Kind::kUnknownRelid, "no such relid"});
  Channel& c = it->second;
  const ChannelEvent event =
      status == kStatusSuccess ? ChannelEvent::kOpenCompleted : ChannelEvent::kOpenAborted;
  if (!next_state(c.state, event) || !c.open) {
    return Err(HostError{HostError::Kind::kWrongState,
                         fmt::format("complete_open not allowed in {}", name(c.state))});
  }
  const std::uint32_t openid = c.open->openid;
  if (status == kStatusSuccess) {
    apply(c, event);
    // The ring GPADL is acquired, so it is complete even if a teardown came.
    notifier_.channel_opened(relid, ring_info(c, *c.gpadls.find_complete(c.open->gpadl_handle)));
  } else {
    stop_ring(relid, c, /*post_torndown=*/true);
    apply(c, event);
  }
  send_open_result(relid, openid, status);
  return {};
}

ChannelFaults* Server::faults(std::uint32_t relid) {
  const auto it = channels_.find(relid);
  return it == channels_.end() ? nullptr : &it->second.faults;
}

// ---- queries ----

std::optional<ChannelState> Server::channel_state(std::uint32_t relid) const {
  const auto it = channels_.find(relid);
  if (it == channels_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<RingInfo> Server::ring(std::uint32_t relid) const {
  const auto it = channels_.find(relid);
  if (it == channels_.end() || !it->second.open) return std::nullopt;
  const Channel& c = it->second;
  if (c.state != ChannelState::kOpen && c.state != ChannelState::kRevokedOpen) return std::nullopt;
  // While open the ring GPADL is acquired: a teardown only marks it
  // TearingDown, so look it up in either state.
  const gpadl::Gpadl* g = c.gpadls.find_complete(c.open->gpadl_handle);
  if (g == nullptr) return std::nullopt;
  return ring_info(c, *g);
}

const gpadl::Table* Server::gpadls(std::uint32_t relid) const {
  const auto it = channels_.find(relid);
  return it == channels_.end() ? nullptr : &it->second.gpadls;
}

std::uint64_t Server::channel_errors(std::uint32_t relid) const {
  const auto it = channels_.find(relid);
  return it == channels_.end() ? 0 : it->second.errors;
}

}  // namespace vscsim::server

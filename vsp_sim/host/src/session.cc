#include "vscsim/host/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "vscsim/base/log.h"

namespace vscsim::host {

namespace layout = transport::layout;

Bar2 Bar2::of(const transport::SharedRegion& region) {
  return {region.host_to_guest(), region.guest_to_host(), region.host_to_guest_events(),
          region.guest_to_host_events()};
}

// ---- Channel ----

Session::Channel::Channel(Session& s, std::uint32_t id, devices::Device& dev,
                          ring::MappedRingPair r, const memory::GuestMemory& mem)
    : session(s),
      relid(id),
      device(dev),
      rings(std::move(r)),
      memory(mem),
      reader(rings.guest_to_host),
      writer(rings.host_to_guest) {}

devices::SendStatus Session::Channel::send(wire::PacketType type, std::uint16_t flags,
                                           std::uint64_t trans_id,
                                           std::span<const std::byte> payload) {
  if (broken) return devices::SendStatus::kClosed;
  if (session.config_.faults == nullptr || session.config_.faults->empty()) {
    return write(type, flags, trans_id, payload);
  }
  return session.faulty_send(*this, type, flags, trans_id, payload);
}

devices::SendStatus Session::Channel::write(wire::PacketType type, std::uint16_t flags,
                                            std::uint64_t trans_id,
                                            std::span<const std::byte> payload) {
  if (broken) return devices::SendStatus::kClosed;
  PacketTrace* trace = session.config_.trace;
  // A second try only when the guest made room between the failed write and
  // request_space's re-check.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = writer.write(type, flags, trans_id, payload);
    if (r.ok()) {
      ++uncommitted;
      if (trace != nullptr) {
        trace->record({trace->now_ns(), TraceEvent::Kind::kHostPacket, relid, static_cast<std::uint32_t>(type),
                       flags, trans_id, static_cast<std::uint32_t>(payload.size())});
      }
      if (type == wire::PacketType::kCompletion && in_flight.erase(trans_id) != 0) {
        operations.erase(trans_id);
        completed.push_back(trans_id);
        if (completed.size() > kRecentIds) completed.pop_front();
      }
      return devices::SendStatus::kOk;
    }
    if (ring::is_corrupt(r.error())) {
      broken = std::get<ring::Corrupt>(r.error()).reason;
      return devices::SendStatus::kClosed;
    }
    // Full: ask the guest to signal once it has freed room for this packet.
    const std::uint32_t needed = std::get<ring::Full>(r.error()).bytes_needed;
    auto room = writer.request_space(needed);
    if (!room.ok()) {
      broken = room.error().reason;
      return devices::SendStatus::kClosed;
    }
    waiting_for_space = needed;
    if (!*room) return devices::SendStatus::kFull;
    writer.clear_pending_send_size();
    waiting_for_space.reset();
  }
  // Room seen twice and still no write: not reachable while this writer is
  // the ring's only producer. Waiting for 0 bytes makes recheck_space() find
  // room after the commit, so the model is resumed on the next pass anyway.
  waiting_for_space = 0;
  return devices::SendStatus::kFull;
}

void Session::Channel::fault(devices::HostFault fault, std::uint64_t trans_id) {
  session.record_fault(relid, fault, trans_id, 0);
}

void Session::Channel::name_operation(std::uint64_t trans_id, std::string_view operation) {
  // Only requests in flight: their number is bounded, and so is this map.
  if (in_flight.contains(trans_id)) operations[trans_id] = std::string(operation);
}

// ---- Session ----

Session::Session(memory::GuestMemory memory, Bar2 bar2, SignalGuest signal,
                 const std::vector<devices::Device*>& devices,
                 const std::map<std::uint32_t, server::ChannelFaults>& faults,
                 SessionConfig config)
    : memory_(std::move(memory)),
      bar2_(bar2),
      signal_(std::move(signal)),
      config_(std::move(config)),
      to_guest_(bar2_.host_to_guest),
      from_guest_(bar2_.guest_to_host),
      server_(memory_, *this, config_.server) {
  for (devices::Device* d : devices) {
    server::DeviceOffer offer;
    offer.interface_type = d->interface_type();
    offer.instance = d->instance();
    auto relid = server_.add_device(offer);
    if (!relid.ok()) {
      log::logf(log::Level::kError, "device {} not offered: {}", d->kind(), relid.error().detail);
      continue;
    }
    devices_[*relid] = d;
    if (auto f = faults.find(*relid); f != faults.end()) *server_.faults(*relid) = f->second;
  }
}

Session::~Session() {
  // The guest is gone (or the host stops): models see their channels close.
  for (auto& [relid, ch] : channels_) {
    end_flood(*ch);
    ch->device.close();
  }
}

void Session::on_guest_signal(std::uint16_t vector) {
  if (vector == layout::kVectorControl) control_pending_ = true;
  if (vector == layout::kVectorChannel) channel_event_ = true;
}

bool Session::busy() const {
  return control_pending_ || channel_event_ || !pending_channels_.empty();
}

std::optional<devices::DeviceClock::time_point> Session::next_deadline() const {
  std::optional<devices::DeviceClock::time_point> earliest;
  for (const auto& [relid, ch] : channels_) {
    if (ch->broken) continue;
    const auto d = ch->device.next_deadline();
    if (d && (!earliest || *d < *earliest)) earliest = d;
    for (const Held& h : ch->held) {
      if (h.due && (!earliest || *h.due < *earliest)) earliest = h.due;
    }
    if (ch->flood) {
      // Polled for room (see pump_flood), or ended at its time.
      const auto poll_at = std::min(ch->flood->until, now() + kFloodPoll);
      if (!earliest || poll_at < *earliest) earliest = poll_at;
    }
  }
  if (config_.faults != nullptr) {
    const auto w = config_.faults->next_window_end();
    if (w && (!earliest || *w < *earliest)) earliest = w;
  }
  return earliest;
}

devices::DeviceClock::time_point Session::now() const {
  return config_.clock ? config_.clock() : devices::DeviceClock::now();
}

void Session::tick_models() {
  const devices::DeviceClock::time_point now = this->now();
  for (auto& [relid, ch] : channels_) {
    if (ch->broken) continue;
    release_held(*ch, false, false);
    ch->device.tick(now);
    if (ch->broken) {
      mark_broken(*ch, *ch->broken);  // a send found the ring corrupt
      continue;
    }
    commit(*ch, false);
  }
}

void Session::poll() {
  tick_models();
  end_windows();
  if (control_pending_) {
    control_pending_ = false;
    flush_backlog();
    drain_control();
  }
  if (channel_event_ || !pending_channels_.empty()) {
    std::set<std::uint32_t> todo;
    todo.swap(pending_channels_);
    if (channel_event_) {
      channel_event_ = false;
      for (std::uint32_t relid : bar2_.guest_to_host_events.take_all()) todo.insert(relid);
    }
    for (std::uint32_t relid : todo) {
      auto it = channels_.find(relid);
      if (it == channels_.end()) {
        // A bit for a channel that is not open: a late signal after close, or
        // a guest bug. Harmless; counted and logged rate-limited.
        ++stats_.unknown_relid_bits;
        VSCSIM_LOG_RATELIMITED(log::Level::kDebug, "event bit for relid {} with no open channel",
                               relid);
        continue;
      }
      service_channel(*it->second);
    }
  }
  // Last, so the pass's real completions are in the ring before the flood.
  for (auto& [relid, ch] : channels_) pump_flood(*ch);
  if (control_signal_needed_) {
    control_signal_needed_ = false;
    signal_(layout::kVectorControl);
  }
}

// ---- control messages ----

bool Session::try_post(std::span<const std::byte> message) {
  const auto r = to_guest_.post(message);
  switch (r.status) {
    case transport::MailboxStatus::kOk:
      ++stats_.messages_posted;
      control_signal_needed_ = true;
      return true;
    case transport::MailboxStatus::kFull:
      return false;
    case transport::MailboxStatus::kInvalid:
      log::logf(log::Level::kError, "channel server produced a {}-byte message; dropped",
                message.size());
      return true;
    case transport::MailboxStatus::kBroken:
      if (!reported_mailbox_broken_) {
        reported_mailbox_broken_ = true;
        log::logf(log::Level::kWarning, "guest broke the host-to-guest mailbox: {}",
                  to_guest_.broken_reason());
      }
      return true;  // nothing can be delivered any more
  }
  return true;
}

void Session::post_message(std::span<const std::byte> message) {
  if (config_.trace != nullptr) config_.trace->record_message(TraceEvent::Kind::kHostMessage, message);
  // Order is kept: once anything waits, everything after it waits too.
  if (backlog_.empty() && try_post(message)) return;
  ++stats_.messages_backlogged;
  backlog_.emplace_back(message.begin(), message.end());
}

void Session::flush_backlog() {
  // Bounded by the backlog's length; stops at the first message that does
  // not fit (the mailbox set producer_waiting, the guest will signal).
  while (!backlog_.empty() && try_post(backlog_.front())) backlog_.pop_front();
}

void Session::drain_control() {
  const auto result =
      from_guest_.drain(config_.messages_per_drain, [&](std::span<const std::byte> message) {
        if (config_.trace != nullptr) config_.trace->record_message(TraceEvent::Kind::kGuestMessage, message);
        if (config_.faults != nullptr) message_faults(message);
        auto handled = server_.handle_message(message);
        // Protocol errors are counted and logged (rate-limited) by the server.
        if (handled.ok() && handled->type == wire::ChannelMessageType::kRelidReleased) {
          ++stats_.relids_released;
          log::logf(log::Level::kInfo, "guest released relid (RELID_RELEASED)");
        }
      });
  if (result.status == transport::MailboxStatus::kBroken && !reported_mailbox_broken_) {
    reported_mailbox_broken_ = true;
    log::logf(log::Level::kWarning, "guest broke the guest-to-host mailbox: {}",
              from_guest_.broken_reason());
  }
  if (result.wake_producer) control_signal_needed_ = true;
  if (result.more_pending) control_pending_ = true;
}

// ---- channels ----

void Session::channel_opened(std::uint32_t relid, const server::RingInfo& ring) {
  auto dev = devices_.find(relid);
  if (dev == devices_.end()) return;
  broken_.erase(relid);
  auto rings = ring::map_ring_pair(memory_, ring.pages, ring.downstream_page_offset);
  if (!rings.ok()) {
    // The server validated the GPADL; a split the ring library refuses (e.g.
    // no data page) leaves the channel without rings: the guest's packets go
    // unanswered, which its own time-outs report.
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "relid {}: ring not mapped: {}", relid,
                           rings.error());
    broken_[relid] = "ring not mapped: " + rings.error();
    return;
  }
  auto ch = std::make_unique<Channel>(*this, relid, *dev->second, std::move(rings).value(), memory_);
  if (ch->reader.broken() || ch->writer.broken()) {
    const std::string why =
        ch->reader.broken() ? ch->reader.broken_reason() : ch->writer.broken_reason();
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "relid {}: ring unusable at open: {}", relid, why);
    broken_[relid] = why;
    return;
  }
  Channel& c = *ch;
  channels_[relid] = std::move(ch);
  c.device.open(c);
  log::logf(log::Level::kInfo, "relid {} ({}) opened: ring of {} pages, guest-to-host {} bytes, "
            "host-to-guest {} bytes", relid, c.device.kind(), ring.pages.size(),
            c.rings.guest_to_host.data_size, c.rings.host_to_guest.data_size);
  // Packets the guest queued before the open completed get no new signal.
  pending_channels_.insert(relid);
}

void Session::channel_closing(std::uint32_t relid) {
  auto it = channels_.find(relid);
  if (it == channels_.end()) return;
  end_flood(*it->second);
  it->second->device.close();
  channels_.erase(it);
  pending_channels_.erase(relid);
  log::logf(log::Level::kInfo, "relid {} closed", relid);
}

void Session::mark_broken(Channel& ch, const std::string& reason) {
  if (!ch.broken) ch.broken = reason;
  if (!broken_.contains(ch.relid)) {
    broken_[ch.relid] = reason;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "relid {}: guest corrupted the ring: {}",
                           ch.relid, reason);
  }
  pending_channels_.erase(ch.relid);
}

void Session::signal_channel(std::uint32_t relid) {
  if (config_.faults != nullptr &&
      config_.faults->window(FaultClass::kWithholdInterrupts, relid, now(), true) != nullptr) {
    record_fault(relid, devices::HostFault::kWithholdInterrupt, 0, 0);
    withheld_.insert(relid);
    return;
  }
  if (!bar2_.host_to_guest_events.set(relid)) return;
  ++stats_.guest_signals_sent;
  signal_(layout::kVectorChannel);
}

void Session::commit(Channel& ch, bool read_signal) {
  bool signal = read_signal;
  if (ch.uncommitted > 0 && !ch.broken) {
    auto w = ch.writer.commit_write();
    if (!w.ok()) {
      mark_broken(ch, w.error().reason);
    } else {
      stats_.packets_written += ch.uncommitted;
      signal = signal || *w;
    }
    ch.uncommitted = 0;
  }
  if (signal) signal_channel(ch.relid);
  // spray_interrupts: signals with nothing new behind them (the bit is set
  // again even if the guest has not taken it: each one rings vector 1).
  for (; ch.spray > 0; --ch.spray) {
    (void)bar2_.host_to_guest_events.set(ch.relid);  // already set or not: ring anyway
    ++stats_.guest_signals_sent;
    signal_(layout::kVectorChannel);
  }
  recheck_space(ch);
}

void Session::recheck_space(Channel& ch) {
  if (!ch.waiting_for_space || ch.broken) return;
  // The guest judges "room made" against the write index it sees; it saw the
  // packets just committed only now. If it already read past them, its
  // signal may never come: look once more, and retry unasked if the room is
  // there.
  auto room = ch.writer.request_space(*ch.waiting_for_space);
  if (!room.ok()) {
    mark_broken(ch, room.error().reason);
    return;
  }
  if (*room) {
    ch.writer.clear_pending_send_size();
    ch.waiting_for_space.reset();
    pending_channels_.insert(ch.relid);
  }
}

bool Session::resume_model(Channel& ch) {
  if (ch.waiting_for_space) {
    ch.writer.clear_pending_send_size();
    ch.waiting_for_space.reset();
  }
  ch.device.resume();
  if (ch.broken) {
    mark_broken(ch, *ch.broken);
    return false;
  }
  return true;
}

void Session::service_channel(Channel& ch) {
  if (ch.broken) return;
  // The guest signalled (perhaps for the room a full ring asked for): what
  // the model holds back goes first, before new packets are read.
  if (!resume_model(ch)) return;
  if (config_.faults != nullptr &&
      config_.faults->window(FaultClass::kStopDraining, ch.relid, now(), true) != nullptr) {
    // The guest-to-host ring is left as it is: it fills. The pass resumes
    // when the window ends or the rule is cleared (end_windows).
    record_fault(ch.relid, devices::HostFault::kStopDraining, 0, 0);
    stalled_.insert(ch.relid);
    commit(ch, false);
    return;
  }
  bool rescind_now = false;
  std::uint32_t budget = config_.packets_per_pass;
  bool stopped_at_bound = false;
  // At most a few mask/unmask rounds: end_drain() reporting new data is the
  // only way round, and each round either reads a packet or stops.
  constexpr int kMaxRounds = 4;
  constexpr std::uint32_t kEarlyCommitFraction = 8;
  ch.reader.begin_drain();
  for (int round = 0; round < kMaxRounds; ++round) {
    while (budget > 0) {
      auto p = ch.reader.read();
      if (!p.ok()) {
        if (ring::is_corrupt(p.error())) {
          mark_broken(ch, std::get<ring::Corrupt>(p.error()).reason);
          return;
        }
        break;  // Empty
      }
      --budget;
      ++stats_.packets_read;
      const auto& d = p->descriptor;
      if (config_.trace != nullptr) {
        config_.trace->record({config_.trace->now_ns(), TraceEvent::Kind::kGuestPacket, ch.relid, d.type,
                               d.flags, d.trans_id, static_cast<std::uint32_t>(p->payload().size())});
      }
      if ((d.flags & wire::kFlagCompletionRequested) != 0 && d.trans_id != 0 &&
          ch.in_flight.size() < kMaxInFlight) {
        ch.in_flight.insert(d.trans_id);
      }
      if (config_.faults != nullptr && rescind_in_flight(ch, d)) {
        rescind_now = true;
        break;
      }
      ch.device.packet(*p);
      if (ch.broken) {
        mark_broken(ch, *ch.broken);
        return;
      }
      // The guest gets its space back once an eighth of the ring has been
      // read, not only at the end of the pass: with large packets a guest
      // that filled the ring would otherwise wait out the whole pass
      // (ring-bench, 64 KiB packets: from 0.38 to 0.48 of memcpy, equal to
      // the two-core handoff floor).
      if (ch.reader.uncommitted_bytes() >= ch.reader.data_size() / kEarlyCommitFraction) {
        auto early = ch.reader.commit_read();
        if (!early.ok()) {
          mark_broken(ch, early.error().reason);
          return;
        }
        if (*early) signal_channel(ch.relid);
      }
    }
    if (budget == 0 && !rescind_now) {
      stopped_at_bound = true;  // interrupts stay masked: we come back unasked
      break;
    }
    // Publish what was read before unmasking. The guest signals only when
    // it finds the ring empty (read index == its old write index): a packet
    // it wrote after the unmask against a stale read index would look like
    // one more behind unread ones, and no signal would ever come for it
    // (vsc-bench e2e stalled so, about once in 20k requests).
    auto published = ch.reader.commit_read();
    if (!published.ok()) {
      mark_broken(ch, published.error().reason);
      return;
    }
    if (*published) signal_channel(ch.relid);  // the guest waits for this space
    auto again = ch.reader.end_drain();
    if (!again.ok()) {
      mark_broken(ch, again.error().reason);
      return;
    }
    if (!*again) break;
    if (rescind_now) {
      stopped_at_bound = true;  // what else waits is read on the next pass
      break;
    }
    ch.reader.begin_drain();
    if (round + 1 == kMaxRounds) stopped_at_bound = true;
  }
  auto r = ch.reader.commit_read();
  if (!r.ok()) {
    mark_broken(ch, r.error().reason);
    return;
  }
  commit(ch, *r);
  if (rescind_now) {
    // Only posts RESCIND_CHANNELOFFER: the channel (and `ch`) live on until
    // the guest closes it.
    if (auto res = server_.rescind(ch.relid); !res.ok()) {
      log::logf(log::Level::kWarning, "relid {}: rescind_after_in_flight: {}", ch.relid, res.error().detail);
    }
  }
  if (stopped_at_bound) pending_channels_.insert(ch.relid);
}

void Session::flush() {
  for (auto& [relid, ch] : channels_) {
    if (ch->uncommitted == 0) continue;
    commit(*ch, false);
  }
  if (control_signal_needed_) {
    control_signal_needed_ = false;
    signal_(layout::kVectorControl);
  }
}

// ---- host events ----

namespace {
std::string host_error(const server::HostError& e) { return e.detail; }
}  // namespace

Result<void, std::string> Session::rescind(std::uint32_t relid) {
  auto r = server_.rescind(relid);
  flush();
  if (!r.ok()) return Err(host_error(r.error()));
  return {};
}

Result<void, std::string> Session::reoffer(std::uint32_t relid) {
  auto r = server_.reoffer(relid);
  flush();
  if (!r.ok()) return Err(host_error(r.error()));
  return {};
}

Result<void, std::string> Session::fail_next_open(std::uint32_t relid, std::uint32_t status) {
  server::ChannelFaults* f = server_.faults(relid);
  if (f == nullptr) return Err(fmt::format("no channel with relid {}", relid));
  f->fail_next_open = status;
  return {};
}

std::optional<std::uint32_t> Session::relid_of(const devices::Device& device) const {
  for (const auto& [relid, d] : devices_) {
    if (d == &device) return relid;
  }
  return std::nullopt;
}

bool Session::channel_broken(std::uint32_t relid) const { return broken_.contains(relid); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Session::channel_word(std::uint32_t relid) const {
  const auto state = server_.channel_state(relid);
  return state ? lower(server::name(*state)) : "none";
}

std::string_view Session::ring_word(std::uint32_t relid) const {
  if (broken_.contains(relid)) return "broken";
  if (channels_.contains(relid)) return "open";
  return "closed";
}

std::string Session::describe_channel(std::uint32_t relid) const {
  std::string s = fmt::format("channel={} ring={}", channel_word(relid), ring_word(relid));
  // The shared indices of an open channel: what a stalled channel is waiting for.
  if (auto it = channels_.find(relid); it != channels_.end()) {
    s += fmt::format(" g2h=[{}] h2g=[{}] host_pending={} h2g_event={} g2h_event={}",
                     ring::describe_header(it->second->rings.guest_to_host),
                     ring::describe_header(it->second->rings.host_to_guest), pending_channels_.contains(relid) ? 1 : 0,
                     bar2_.host_to_guest_events.test(relid) ? 1 : 0, bar2_.guest_to_host_events.test(relid) ? 1 : 0);
  }
  return s;
}

}  // namespace vscsim::host

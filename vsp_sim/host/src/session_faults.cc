// Session: where the fault engine's rules act (fault_engine.h; the table of
// actions is in vsp_sim/host/README.md).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "vscsim/base/log.h"
#include "vscsim/host/session.h"
#include "vscsim/host/packet_trace.h"
#include "vscsim/wire/channel_messages.h"
#include "vscsim/wire/parse.h"

namespace vscsim::host {

using devices::HostFault;
using devices::SendStatus;
using control::FaultRule;

void Session::record_fault(std::uint32_t relid, HostFault fault, std::uint64_t trans_id,
                           std::uint64_t arg) {
  PacketTrace* trace = config_.trace;
  if (trace == nullptr) return;
  TraceEvent e;
  e.t_ns = trace->now_ns();
  e.kind = TraceEvent::Kind::kHostFault;
  e.relid = relid;
  e.type = static_cast<std::uint32_t>(fault);
  e.trans_id = trans_id;
  e.arg = arg;
  trace->record(e);
}

namespace {

// Writes `value` as the little-endian u32 at `offset` of `bytes`, if it fits.
void put_u32(std::vector<std::byte>& bytes, std::uint32_t offset, std::uint32_t value) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof value) return;
  std::memcpy(bytes.data() + offset, &value, sizeof value);  // x86-64: little-endian
}

}  // namespace

SendStatus Session::faulty_send(Channel& ch, wire::PacketType type, std::uint16_t flags,
                                std::uint64_t trans_id, std::span<const std::byte> payload) {
  FaultEngine& engine = *config_.faults;
  const auto layout = ch.device.completion_layout();
  const auto type_word = static_cast<std::uint32_t>(type);
  // Completion rules act only on models that say what their completions
  // look like (Host refuses such rules for the others; relid 0 skips them).
  // One reorder at a time: while a completion waits for the next one, the
  // next one is not held too (count 0 swaps pairs: 1 and 2, 3 and 4, ...).
  const bool reorder_waits =
      std::any_of(ch.held.begin(), ch.held.end(), [](const Held& h) { return !h.due; });
  const auto named = ch.operations.find(trans_id);
  // A copy: the entry goes when the completion is written, before the rules count it.
  const std::string operation = named == ch.operations.end() ? std::string() : named->second;
  const auto fits = [reorder_waits, operation](const FaultRule& f) {
    if (!f.operation().empty() && f.operation() != operation) return false;
    return !(reorder_waits && f.has_reorder());
  };
  FaultEngine::Rule* rule =
      layout ? engine.select(FaultClass::kCompletion, ch.relid, trans_id, type_word, false, fits) : nullptr;
  if (rule == nullptr) {
    const SendStatus sent = ch.write(type, flags, trans_id, payload);
    if (sent != SendStatus::kOk) return sent;
    // Rules still waiting for their `after` count the packet.
    if (layout) engine.select(FaultClass::kCompletion, ch.relid, trans_id, type_word, true, fits);
    if (type == wire::PacketType::kCompletion) release_held(ch, true, false);
    return sent;
  }
  const FaultRule& f = rule->rule;
  const FaultAction action = f.action_case();
  std::uint64_t arg = 0;
  std::uint64_t id = trans_id;
  std::vector<std::byte> bytes(payload.begin(), payload.end());
  SendStatus sent = SendStatus::kOk;
  switch (action) {
    case FaultRule::kDrop:
      break;
    case FaultRule::kDelayMs:
      arg = f.delay_ms();
      hold(ch, now() + std::chrono::milliseconds(f.delay_ms()), type, flags, trans_id, payload);
      break;
    case FaultRule::kReorder:
      hold(ch, std::nullopt, type, flags, trans_id, payload);
      break;
    case FaultRule::kDuplicate:
      sent = ch.write(type, flags, trans_id, payload);
      arg = 1;
      // The second copy waits for room like a delayed one, if need be.
      if (sent == SendStatus::kOk && ch.write(type, flags, trans_id, payload) != SendStatus::kOk) {
        hold(ch, now(), type, flags, trans_id, payload);
      }
      break;
    case FaultRule::kWrongId:
      id = wrong_id(ch, f.wrong_id().kind(), trans_id);
      arg = id;
      break;
    case FaultRule::kTruncate:
      // Host::execute refused a length not shorter than the layout's; a
      // shorter payload than the layout says is sent whole (clamped).
      bytes.resize(std::min<std::size_t>(f.truncate(), bytes.size()));
      arg = bytes.size();
      break;
    case FaultRule::kCorrupt:
      if (f.corrupt().has_status()) {
        put_u32(bytes, layout->status_offset, f.corrupt().status());
        arg = f.corrupt().status();
      } else if (f.corrupt().offset() < bytes.size()) {
        bytes[f.corrupt().offset()] ^= static_cast<std::byte>(f.corrupt().xor_mask());
        arg = f.corrupt().offset();
      }
      break;
    case FaultRule::kOversizeResponseLen: {
      const std::uint32_t len = f.oversize_response_len().response_len() != 0
                                    ? f.oversize_response_len().response_len()
                                    : layout->max_response_len + 1;
      put_u32(bytes, layout->response_len_offset, len);
      arg = len;
      break;
    }
    case FaultRule::kSprayInterrupts:
      arg = f.spray_interrupts();
      break;
    case FaultRule::kFloodMs:
      arg = f.flood_ms();
      break;
    default:
      break;
  }
  const bool writes_now = action != FaultRule::kDrop && action != FaultRule::kDelayMs &&
                          action != FaultRule::kReorder && action != FaultRule::kDuplicate;
  if (writes_now) sent = ch.write(type, flags, id, bytes);
  // A full ring: nothing happened, the model retries later and the rule
  // meets the packet again then.
  if (sent != SendStatus::kOk) return sent;
  engine.select(FaultClass::kCompletion, ch.relid, trans_id, type_word, true, fits);
  record_fault(ch.relid, host_fault(action), trans_id, arg);
  if (action == FaultRule::kSprayInterrupts) ch.spray += f.spray_interrupts();
  if (action == FaultRule::kFloodMs) start_flood(ch, trans_id, f.flood_ms(), bytes);
  if (action != FaultRule::kReorder && type == wire::PacketType::kCompletion) {
    release_held(ch, true, false);
  }
  return SendStatus::kOk;
}

void Session::hold(Channel& ch, std::optional<devices::DeviceClock::time_point> due,
                   wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                   std::span<const std::byte> payload) {
  if (ch.held.size() >= kMaxHeld) {
    // Bounded: past the cap a held completion is due at once.
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "relid {}: {} completions held; sending", ch.relid,
                           ch.held.size());
    due = now();
  }
  ch.held.push_back(Held{due, type, flags, trans_id, {payload.begin(), payload.end()}});
}

void Session::release_held(Channel& ch, bool reordered, bool all) {
  const auto t = now();
  // Bounded by the queue's length; stops at the first that finds no room.
  for (auto it = ch.held.begin(); it != ch.held.end();) {
    const bool go = all || (it->due ? *it->due <= t : reordered);
    if (!go) {
      ++it;
      continue;
    }
    if (ch.write(it->type, it->flags, it->trans_id, it->payload) != SendStatus::kOk) return;
    it = ch.held.erase(it);
  }
}

std::uint64_t Session::wrong_id(const Channel& ch, control::WrongId::Kind kind, std::uint64_t trans_id) {
  if (kind == control::WrongId::ZERO) return 0;
  if (kind == control::WrongId::STALE) {
    // The newest id completed earlier that is not in flight again now.
    for (auto it = ch.completed.rbegin(); it != ch.completed.rend(); ++it) {
      if (*it != trans_id && !ch.in_flight.contains(*it)) return *it;
    }
    // Nothing completed yet: an unknown id instead (the event's arg says which).
  }
  const auto [id, n] = unknown_ids(ch, trans_id, 1);
  next_unknown_id_ = id + n;
  return id;
}

std::pair<std::uint64_t, std::uint32_t> Session::unknown_ids(const Channel& ch, std::uint64_t avoid,
                                                             std::uint32_t max) const {
  // Counting up from 2^63: no id the guest has in flight on this channel.
  std::uint64_t first = next_unknown_id_;
  while (ch.in_flight.contains(first) || first == avoid) ++first;
  // One lookup in the ordered set bounds the whole block.
  std::uint64_t end = first + std::min<std::uint64_t>(max, UINT64_MAX - first);
  if (auto it = ch.in_flight.upper_bound(first); it != ch.in_flight.end() && *it < end) end = *it;
  if (avoid > first && avoid < end) end = avoid;
  return {first, static_cast<std::uint32_t>(end - first)};
}

bool Session::rescind_in_flight(Channel& ch, const wire::VmpacketDescriptor& d) {
  if ((d.flags & wire::kFlagCompletionRequested) == 0 || d.trans_id == 0) return false;
  // Once rescinded, requests the guest still sends go to the model as usual.
  if (server_.channel_state(ch.relid) != server::ChannelState::kOpen) return false;
  const std::size_t n = ch.in_flight.size();
  const auto fits = [n](const FaultRule& f) { return n >= f.rescind_after_in_flight(); };
  if (config_.faults->select(FaultClass::kInFlight, ch.relid, d.trans_id, d.type, true, fits) == nullptr) {
    return false;
  }
  record_fault(ch.relid, HostFault::kRescindInFlight, d.trans_id, n);
  return true;
}

void Session::message_faults(std::span<const std::byte> message) {
  auto header = wire::parse_struct<wire::ChannelMessageHeader>(message);
  const auto relid = message_relid(message);
  if (!header.ok() || !relid) return;
  FaultEngine& engine = *config_.faults;
  const auto type = static_cast<std::uint32_t>(header->msgtype);
  switch (header->msgtype) {
    case wire::ChannelMessageType::kGpadlHeader:
    case wire::ChannelMessageType::kOpenChannel: {
      const bool gpadl = header->msgtype == wire::ChannelMessageType::kGpadlHeader;
      server::ChannelFaults* hooks = server_.faults(*relid);
      if (hooks == nullptr) return;  // the server answers an unknown relid itself
      FaultEngine::Rule* rule =
          engine.select(gpadl ? FaultClass::kGpadl : FaultClass::kOpen, *relid, 0, type, true);
      if (rule == nullptr) return;
      const std::uint32_t status = gpadl ? rule->rule.fail_gpadl().status() : rule->rule.fail_open().status();
      (gpadl ? hooks->fail_next_gpadl : hooks->fail_next_open) = status;
      record_fault(*relid, gpadl ? HostFault::kFailGpadl : HostFault::kFailOpen, 0, status);
      return;
    }
    case wire::ChannelMessageType::kCloseChannel: {
      if (engine.select(FaultClass::kClose, *relid, 0, type, false) == nullptr) return;
      if (auto r = server_.rescind(*relid); !r.ok()) {
        log::logf(log::Level::kWarning, "relid {}: rescind_on_close: {}", *relid, r.error().detail);
        return;
      }
      engine.select(FaultClass::kClose, *relid, 0, type, true);
      record_fault(*relid, HostFault::kRescindOnClose, 0, 0);
      return;
    }
    default:
      return;
  }
}

void Session::end_windows() {
  if (config_.faults == nullptr || (stalled_.empty() && withheld_.empty())) return;
  FaultEngine& engine = *config_.faults;
  const auto t = now();
  for (auto it = stalled_.begin(); it != stalled_.end();) {
    if (engine.window(FaultClass::kStopDraining, *it, t, false) != nullptr) {
      ++it;
      continue;
    }
    pending_channels_.insert(*it);  // drained on this pass
    it = stalled_.erase(it);
  }
  for (auto it = withheld_.begin(); it != withheld_.end();) {
    if (engine.window(FaultClass::kWithholdInterrupts, *it, t, false) != nullptr) {
      ++it;
      continue;
    }
    const std::uint32_t relid = *it;
    it = withheld_.erase(it);
    signal_channel(relid);
  }
}

void Session::start_flood(Channel& ch, std::uint64_t trans_id, std::uint32_t ms,
                          std::span<const std::byte> payload) {
  const auto until = now() + std::chrono::milliseconds(ms);
  if (ch.flood) {
    // A second trigger during a flood prolongs it; the count goes on.
    ch.flood->until = std::max(ch.flood->until, until);
    return;
  }
  ch.flood = Channel::Flood{until, trans_id, 0, {payload.begin(), payload.end()}, 0, 0};
}

void Session::pump_flood(Channel& ch) {
  if (!ch.flood) return;
  if (ch.broken || now() >= ch.flood->until ||
      server_.channel_state(ch.relid) != server::ChannelState::kOpen) {
    end_flood(ch);
    return;
  }
  // Real completions are never starved: one the model could not send waits
  // for room, and the flood takes none until it has gone.
  if (ch.waiting_for_space) {
    auto room = ch.writer.request_space(*ch.waiting_for_space);
    if (!room.ok()) {
      mark_broken(ch, room.error().reason);
      return;
    }
    if (!*room || !resume_model(ch)) return;
    if (ch.waiting_for_space) {
      commit(ch, false);
      return;
    }
  }
  // Nor are held completions that are due (release_held stops at a full ring).
  release_held(ch, false, false);
  const auto t = now();
  if (std::any_of(ch.held.begin(), ch.held.end(), [t](const Held& h) { return h.due && *h.due <= t; })) {
    commit(ch, false);
    return;
  }
  // How often the guest had read everything: each time, its callback could
  // return with an empty ring and user space could run (README: flood rate).
  auto unread = ch.writer.unread_bytes();
  if (!unread.ok()) {
    mark_broken(ch, unread.error().reason);
    return;
  }
  ++ch.flood->passes;
  if (*unread == 0) ++ch.flood->found_empty;
  // No pending_send_sz for the flood: the guest would signal for every batch
  // it frees. The next pass looks for room instead. Committed every
  // kFloodChunk packets, so the guest reads while the host writes.
  std::uint32_t left = kFloodPerPass;
  while (left > 0) {
    const auto [first, block] = unknown_ids(ch, ch.flood->trans_id, std::min(left, kFloodChunk));
    auto w = ch.writer.write_copies(wire::PacketType::kCompletion, 0, first, block, ch.flood->payload);
    if (!w.ok()) {
      if (ring::is_corrupt(w.error())) mark_broken(ch, std::get<ring::Corrupt>(w.error()).reason);
      break;  // or full
    }
    // Only the ids written are used up. Not in the packet trace one by one:
    // millions would push out what the accounting checker needs; flood_end
    // carries the count.
    next_unknown_id_ = first + *w;
    left -= *w;
    ch.uncommitted += *w;
    ch.flood->written += *w;
    stats_.flood_packets += *w;
    commit(ch, false);
    if (ch.broken || *w < block) break;  // the ring is full
  }
  commit(ch, false);  // held completions released above, if the ring took no copy
}

void Session::end_flood(Channel& ch) {
  if (!ch.flood) return;
  log::logf(log::Level::kInfo, "relid {}: flood ended: {} packets in {} passes, {} found the ring read empty",
            ch.relid, ch.flood->written, ch.flood->passes, ch.flood->found_empty);
  record_fault(ch.relid, HostFault::kFloodEnd, ch.flood->trans_id, ch.flood->written);
  ch.flood.reset();
}

void Session::faults_cleared(std::uint32_t relid) {
  for (auto& [r, ch] : channels_) {
    if (relid != 0 && r != relid) continue;
    end_flood(*ch);
    release_held(*ch, true, true);
    if (ch->broken) {
      mark_broken(*ch, *ch->broken);
      continue;
    }
    commit(*ch, false);
  }
  end_windows();
}

}  // namespace vscsim::host

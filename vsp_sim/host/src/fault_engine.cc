#include "vscsim/host/fault_engine.h"

#include <fmt/format.h>

#include <algorithm>

#include "vscsim/server/server.h"
#include "vscsim/wire/packet.h"

namespace vscsim::host {

using devices::HostFault;
using Action = control::FaultRule;

FaultClass fault_class(FaultAction action) {
  switch (action) {
    case Action::kRescindAfterInFlight: return FaultClass::kInFlight;
    case Action::kRescindOnClose: return FaultClass::kClose;
    case Action::kFailGpadl: return FaultClass::kGpadl;
    case Action::kFailOpen: return FaultClass::kOpen;
    case Action::kStopDraining: return FaultClass::kStopDraining;
    case Action::kWithholdInterrupts: return FaultClass::kWithholdInterrupts;
    default: return FaultClass::kCompletion;
  }
}

std::string_view action_name(FaultAction action) {
  if (action == Action::ACTION_NOT_SET) return {};
  const auto* field = control::FaultRule::descriptor()->FindFieldByNumber(static_cast<int>(action));
  return field != nullptr ? std::string_view(field->name()) : std::string_view{};
}

FaultAction action_named(std::string_view name) {
  const auto* field = control::FaultRule::descriptor()->FindFieldByName(std::string(name));
  if (field == nullptr || field->containing_oneof() == nullptr) return Action::ACTION_NOT_SET;
  return static_cast<FaultAction>(field->number());
}

HostFault host_fault(FaultAction action) {
  switch (action) {
    case Action::kDelayMs: return HostFault::kDelayCompletion;
    case Action::kDuplicate: return HostFault::kDuplicateCompletion;
    case Action::kReorder: return HostFault::kReorderCompletion;
    case Action::kWrongId: return HostFault::kWrongId;
    case Action::kTruncate: return HostFault::kTruncateCompletion;
    case Action::kCorrupt: return HostFault::kCorruptCompletion;
    case Action::kOversizeResponseLen: return HostFault::kOversizeResponseLen;
    case Action::kSprayInterrupts: return HostFault::kSprayInterrupts;
    case Action::kFloodMs: return HostFault::kFlood;
    case Action::kRescindAfterInFlight: return HostFault::kRescindInFlight;
    case Action::kRescindOnClose: return HostFault::kRescindOnClose;
    case Action::kFailGpadl: return HostFault::kFailGpadl;
    case Action::kFailOpen: return HostFault::kFailOpen;
    case Action::kStopDraining: return HostFault::kStopDraining;
    case Action::kWithholdInterrupts: return HostFault::kWithholdInterrupt;
    default: return HostFault::kDropCompletion;
  }
}

namespace {

bool is_window(FaultClass cls) {
  return cls == FaultClass::kStopDraining || cls == FaultClass::kWithholdInterrupts;
}

bool on_relid(const control::FaultRule& r, std::uint32_t relid) {
  return r.relid() == 0 || r.relid() == relid;
}

}  // namespace

Result<std::uint64_t, std::string> FaultEngine::add(const control::FaultRule& rule) {
  if (rule.action_case() == Action::ACTION_NOT_SET) return Err(std::string("the rule has no action"));
  if (rules_.size() >= kMaxRules) {
    return Err(fmt::format("{} rules already (the most there can be); clear some first", kMaxRules));
  }
  switch (rule.action_case()) {
    case Action::kSprayInterrupts:
      if (rule.spray_interrupts() == 0 || rule.spray_interrupts() > 64) {
        return Err(std::string("spray_interrupts needs 1 to 64 signals"));
      }
      break;
    case Action::kDelayMs:
      if (rule.delay_ms() == 0) return Err(std::string("delay_ms needs at least 1 ms"));
      break;
    case Action::kFloodMs:
      if (rule.flood_ms() == 0 || rule.flood_ms() > kMaxFloodMs) {
        return Err(fmt::format("flood_ms needs 1 to {} ms", kMaxFloodMs));
      }
      break;
    case Action::kRescindAfterInFlight:
      if (rule.rescind_after_in_flight() == 0) {
        return Err(std::string("rescind_after_in_flight needs at least 1 request"));
      }
      break;
    case Action::kCorrupt:
      if (!rule.corrupt().has_status() && (rule.corrupt().xor_mask() == 0 || rule.corrupt().xor_mask() > 0xff)) {
        return Err(std::string("corrupt needs a status, or an xor mask of 1 to 255"));
      }
      break;
    default:
      break;
  }
  if (rule.has_trans_id() && fault_class(rule.action_case()) != FaultClass::kCompletion &&
      fault_class(rule.action_case()) != FaultClass::kInFlight) {
    return Err(fmt::format("{} matches no transaction id", action_name(rule.action_case())));
  }
  if (!rule.operation().empty() && fault_class(rule.action_case()) != FaultClass::kCompletion) {
    return Err(fmt::format("{} matches no operation (only completion rules do)", action_name(rule.action_case())));
  }
  Rule r;
  r.id = next_id_++;
  r.rule = rule;
  // A failure status of 0 would be success: it means STATUS_UNSUCCESSFUL.
  if (rule.has_fail_gpadl() && rule.fail_gpadl().status() == 0) {
    r.rule.mutable_fail_gpadl()->set_status(server::kStatusUnsuccessful);
  }
  if (rule.has_fail_open() && rule.fail_open().status() == 0) {
    r.rule.mutable_fail_open()->set_status(server::kStatusUnsuccessful);
  }
  rules_.push_back(std::move(r));
  return rules_.back().id;
}

std::size_t FaultEngine::clear(std::uint32_t relid) {
  const std::size_t before = rules_.size();
  std::erase_if(rules_, [&](const Rule& r) { return relid == 0 || r.rule.relid() == relid; });
  return before - rules_.size();
}

FaultEngine::Rule* FaultEngine::select(FaultClass cls, std::uint32_t relid, std::uint64_t trans_id,
                                       std::uint32_t type, bool apply,
                                       const std::function<bool(const control::FaultRule&)>& fits) {
  Rule* acting = nullptr;
  // Bounded by kMaxRules.
  for (Rule& r : rules_) {
    const control::FaultRule& f = r.rule;
    if (fault_class(f.action_case()) != cls || !on_relid(f, relid)) continue;
    if (f.has_trans_id() && f.trans_id() != trans_id) continue;
    if (cls == FaultClass::kCompletion) {
      const std::uint32_t want =
          f.has_packet_type() ? f.packet_type() : static_cast<std::uint32_t>(wire::PacketType::kCompletion);
      if (want != type) continue;
    } else if (f.has_packet_type() && f.packet_type() != type) {
      continue;
    }
    if (fits && !fits(f)) continue;
    const std::uint64_t seen = r.seen + 1;
    const bool eligible = !r.spent && seen > f.after();
    if (apply) r.seen = seen;
    if (!eligible || acting != nullptr) continue;
    acting = &r;
    if (apply) {
      ++r.hits;
      if (f.count() != 0 && r.hits >= f.count()) r.spent = true;
    }
  }
  return acting;
}

FaultEngine::Rule* FaultEngine::window(FaultClass cls, std::uint32_t relid,
                                       devices::DeviceClock::time_point now, bool use) {
  for (Rule& r : rules_) {
    const control::FaultRule& f = r.rule;
    if (r.spent || fault_class(f.action_case()) != cls || !on_relid(f, relid)) continue;
    // Asking whether a window is still open (use == false): a rule that has
    // not started holds nothing yet. Counting it would keep what the ended
    // window held back (a signal, a ring) held for ever.
    if (!use && !r.started) continue;
    const std::uint32_t ms =
        cls == FaultClass::kStopDraining ? f.stop_draining().ms() : f.withhold_interrupts().ms();
    if (r.started && ms != 0 && now >= *r.started + std::chrono::milliseconds(ms)) {
      r.spent = true;
      continue;
    }
    if (use) {
      if (!r.started) r.started = now;
      ++r.hits;
      ++r.seen;
    }
    return &r;
  }
  return nullptr;
}

std::optional<devices::DeviceClock::time_point> FaultEngine::next_window_end() const {
  std::optional<devices::DeviceClock::time_point> earliest;
  for (const Rule& r : rules_) {
    const FaultClass cls = fault_class(r.rule.action_case());
    if (r.spent || !r.started || !is_window(cls)) continue;
    const std::uint32_t ms = cls == FaultClass::kStopDraining ? r.rule.stop_draining().ms()
                                                              : r.rule.withhold_interrupts().ms();
    if (ms == 0) continue;
    const auto end = *r.started + std::chrono::milliseconds(ms);
    if (!earliest || end < *earliest) earliest = end;
  }
  return earliest;
}

void FaultEngine::list(std::optional<std::uint32_t> relid,
                       google::protobuf::RepeatedPtrField<control::ActiveFault>& out) const {
  for (const Rule& r : rules_) {
    if (relid && r.rule.relid() != *relid) continue;
    control::ActiveFault& a = *out.Add();
    a.set_id(r.id);
    *a.mutable_rule() = r.rule;
    a.set_hits(r.hits);
    a.set_seen(r.seen);
    a.set_spent(r.spent);
    a.set_text(describe(r));
  }
}

std::string describe(const FaultEngine::Rule& r) {
  const control::FaultRule& f = r.rule;
  std::string out = fmt::format("#{} {} relid={}", r.id, action_name(f.action_case()), f.relid());
  switch (f.action_case()) {
    case Action::kDelayMs: out += fmt::format(" ms={}", f.delay_ms()); break;
    case Action::kWrongId:
      out += fmt::format(" kind={}", control::WrongId::Kind_Name(f.wrong_id().kind()));
      break;
    case Action::kTruncate: out += fmt::format(" bytes={}", f.truncate()); break;
    case Action::kCorrupt:
      out += f.corrupt().has_status() ? fmt::format(" status={}", f.corrupt().status())
                                      : fmt::format(" offset={} xor={:#x}", f.corrupt().offset(),
                                                    f.corrupt().xor_mask());
      break;
    case Action::kOversizeResponseLen:
      out += fmt::format(" len={}", f.oversize_response_len().response_len());
      break;
    case Action::kSprayInterrupts: out += fmt::format(" n={}", f.spray_interrupts()); break;
    case Action::kFloodMs: out += fmt::format(" ms={}", f.flood_ms()); break;
    case Action::kRescindAfterInFlight: out += fmt::format(" n={}", f.rescind_after_in_flight()); break;
    case Action::kFailGpadl: out += fmt::format(" status={:#x}", f.fail_gpadl().status()); break;
    case Action::kFailOpen: out += fmt::format(" status={:#x}", f.fail_open().status()); break;
    case Action::kStopDraining: out += fmt::format(" ms={}", f.stop_draining().ms()); break;
    case Action::kWithholdInterrupts: out += fmt::format(" ms={}", f.withhold_interrupts().ms()); break;
    default: break;
  }
  if (f.after() != 0) out += fmt::format(" after={}", f.after());
  if (f.count() != 0) out += fmt::format(" count={}", f.count());
  if (f.has_trans_id()) out += fmt::format(" id={}", f.trans_id());
  if (f.has_packet_type()) out += fmt::format(" type={}", f.packet_type());
  if (!f.operation().empty()) out += fmt::format(" op={}", f.operation());
  out += fmt::format(" hits={}{}", r.hits, r.spent ? " spent" : "");
  return out;
}

}  // namespace vscsim::host

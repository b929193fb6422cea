#include "text_command.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <optional>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/host/fault_engine.h"

namespace vscsim::host {

namespace {

using control::Request;

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Decimal or 0x-prefixed hexadecimal, whole word, fits in T.
template <class T = std::uint32_t>
std::optional<T> parse_number(std::string_view w) {
  int base = 10;
  if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
    base = 16;
    w.remove_prefix(2);
  }
  T v = 0;
  const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v, base);
  if (ec != std::errc() || end != w.data() + w.size()) return std::nullopt;
  return v;
}

// The number in word `w`, or the error "'<w>' is not <what>".
template <class T = std::uint32_t>
Result<T, std::string> number(std::string_view w, std::string_view what) {
  const auto v = parse_number<T>(w);
  if (!v) return Err(fmt::format("'{}' is not {}", w, what));
  return *v;
}

// Fills `field` from word `w`; false after setting `why`.
template <class T, class Set>
bool take(std::string_view w, std::string_view what, std::string& why, Set set) {
  auto v = number<T>(w, what);
  if (!v.ok()) {
    why = std::move(v.error());
    return false;
  }
  set(*v);
  return true;
}

Result<Request, std::string> parse_channel(std::string_view cmd, const std::vector<std::string_view>& w) {
  if (w.size() != 2) return Err(fmt::format("usage: {} <relid>", cmd));
  const auto relid = number(w[1], "a relid");
  if (!relid.ok()) return Err(relid.error());
  Request r;
  control::ChannelRef* ref = cmd == "rescind"   ? r.mutable_rescind()
                             : cmd == "reoffer" ? r.mutable_reoffer()
                                                : r.mutable_fail_open();
  ref->set_relid(*relid);
  return r;
}

Result<Request, std::string> parse_key(const std::vector<std::string_view>& w) {
  if (w.size() < 2 || w.size() > 3) return Err(std::string("usage: key <scancode> [down|up|press]"));
  Request r;
  control::Key& key = *r.mutable_key();
  std::string why;
  if (!take<std::uint32_t>(w[1], "a scancode", why, [&](auto v) { key.set_scancode(v); })) return Err(why);
  if (w.size() == 3) {
    if (w[2] == "down") {
      key.set_action(control::Key::DOWN);
    } else if (w[2] == "up") {
      key.set_action(control::Key::UP);
    } else if (w[2] != "press") {
      return Err(fmt::format("'{}' is not down, up or press", w[2]));
    }
  }
  return r;
}

Result<Request, std::string> parse_blob_delay(const std::vector<std::string_view>& w) {
  const bool late = w.size() == 4 && w[3] == "late";
  if (w.size() != 3 && !late) return Err(std::string("usage: blob-delay <relid> <ms> [late]"));
  Request r;
  control::BlobDelay& d = *r.mutable_blob_delay();
  std::string why;
  if (!take<std::uint32_t>(w[1], "a relid", why, [&](auto v) { d.set_relid(v); }) ||
      !take<std::uint32_t>(w[2], "a number of milliseconds", why, [&](auto v) { d.set_ms(v); })) {
    return Err(why);
  }
  d.set_late(late);
  return r;
}

Result<Request, std::string> parse_blob_inject(const std::vector<std::string_view>& w) {
  if (w.size() != 3 && w.size() != 4) return Err(std::string("usage: blob-inject <relid> <trans_id> [<payload_bytes>]"));
  Request r;
  control::BlobInject& i = *r.mutable_blob_inject();
  std::string why;
  if (!take<std::uint32_t>(w[1], "a relid", why, [&](auto v) { i.set_relid(v); }) ||
      !take<std::uint64_t>(w[2], "a transaction id", why, [&](auto v) { i.set_trans_id(v); }) ||
      (w.size() == 4 && !take<std::uint32_t>(w[3], "a byte count", why, [&](auto v) { i.set_payload_bytes(v); }))) {
    return Err(why);
  }
  return r;
}

Result<Request, std::string> parse_blob_drop(const std::vector<std::string_view>& w) {
  if (w.size() != 3 && w.size() != 4) return Err(std::string("usage: blob-drop <relid> <count> [<after>]"));
  Request r;
  control::BlobDrop& d = *r.mutable_blob_drop();
  std::string why;
  if (!take<std::uint32_t>(w[1], "a relid", why, [&](auto v) { d.set_relid(v); }) ||
      !take<std::uint32_t>(w[2], "a count", why, [&](auto v) { d.set_count(v); }) ||
      (w.size() == 4 && !take<std::uint32_t>(w[3], "a number of requests", why, [&](auto v) { d.set_after(v); }))) {
    return Err(why);
  }
  return r;
}

// `fault <action> <relid> [key=value ...]` (host.h lists the keys).
Result<Request, std::string> parse_fault(const std::vector<std::string_view>& w) {
  using control::FaultRule;
  if (w.size() < 3) return Err(std::string("usage: fault <action> <relid> [key=value ...]"));
  const FaultAction action = action_named(w[1]);
  if (action == FaultRule::ACTION_NOT_SET) return Err(fmt::format("'{}' is not a fault action (try help)", w[1]));
  Request r;
  FaultRule& f = *r.mutable_add_fault();
  std::string why;
  if (!take<std::uint32_t>(w[2], "a relid", why, [&](auto v) { f.set_relid(v); })) return Err(why);
  std::map<std::string_view, std::string_view> kv;
  for (std::size_t i = 3; i < w.size(); ++i) {
    const auto eq = w[i].find('=');
    if (eq == std::string_view::npos || eq == 0) return Err(fmt::format("'{}' is not key=value", w[i]));
    if (!kv.emplace(w[i].substr(0, eq), w[i].substr(eq + 1)).second) {
      return Err(fmt::format("'{}' given twice", w[i].substr(0, eq)));
    }
  }
  // Takes key `k` as a u32 (or u64) into `set`; a key the action does not
  // take is left in kv and refused below.
  bool ok = true;
  const auto u32 = [&](std::string_view k, auto set) {
    if (auto it = kv.find(k); ok && it != kv.end()) {
      ok = take<std::uint32_t>(it->second, fmt::format("a number for {}", k), why, set);
      kv.erase(it);
    }
  };
  u32("after", [&](auto v) { f.set_after(v); });
  u32("count", [&](auto v) { f.set_count(v); });
  u32("type", [&](auto v) { f.set_packet_type(v); });
  if (auto it = kv.find("id"); ok && it != kv.end()) {
    ok = take<std::uint64_t>(it->second, "a transaction id", why, [&](auto v) { f.set_trans_id(v); });
    kv.erase(it);
  }
  if (auto it = kv.find("op"); ok && it != kv.end()) {
    f.set_operation(std::string(it->second));
    kv.erase(it);
  }
  switch (action) {
    case FaultRule::kDrop: f.mutable_drop(); break;
    case FaultRule::kDuplicate: f.mutable_duplicate(); break;
    case FaultRule::kReorder: f.mutable_reorder(); break;
    case FaultRule::kRescindOnClose: f.mutable_rescind_on_close(); break;
    case FaultRule::kDelayMs:
      f.set_delay_ms(0);
      u32("ms", [&](auto v) { f.set_delay_ms(v); });
      break;
    case FaultRule::kFloodMs:
      f.set_flood_ms(0);
      u32("ms", [&](auto v) { f.set_flood_ms(v); });
      break;
    case FaultRule::kWrongId: {
      auto& wrong = *f.mutable_wrong_id();
      if (auto it = kv.find("kind"); it != kv.end()) {
        if (it->second == "zero") {
          wrong.set_kind(control::WrongId::ZERO);
        } else if (it->second == "unknown") {
          wrong.set_kind(control::WrongId::UNKNOWN);
        } else if (it->second == "stale") {
          wrong.set_kind(control::WrongId::STALE);
        } else {
          return Err(fmt::format("'{}' is not zero, unknown or stale", it->second));
        }
        kv.erase(it);
      }
      break;
    }
    case FaultRule::kTruncate:
      f.set_truncate(0);
      u32("bytes", [&](auto v) { f.set_truncate(v); });
      break;
    case FaultRule::kCorrupt: {
      auto& c = *f.mutable_corrupt();
      c.set_xor_mask(0xff);
      u32("offset", [&](auto v) { c.set_offset(v); });
      u32("xor", [&](auto v) { c.set_xor_mask(v); });
      u32("status", [&](auto v) { c.set_status(v); });
      break;
    }
    case FaultRule::kOversizeResponseLen:
      u32("len", [&](auto v) { f.mutable_oversize_response_len()->set_response_len(v); });
      f.mutable_oversize_response_len();
      break;
    case FaultRule::kSprayInterrupts:
      f.set_spray_interrupts(1);
      u32("n", [&](auto v) { f.set_spray_interrupts(v); });
      break;
    case FaultRule::kRescindAfterInFlight:
      f.set_rescind_after_in_flight(1);
      u32("n", [&](auto v) { f.set_rescind_after_in_flight(v); });
      break;
    case FaultRule::kFailGpadl:
    case FaultRule::kFailOpen: {
      control::FailStatus* fail = action == FaultRule::kFailGpadl ? f.mutable_fail_gpadl() : f.mutable_fail_open();
      u32("status", [fail](auto v) { fail->set_status(v); });
      break;
    }
    case FaultRule::kStopDraining:
    case FaultRule::kWithholdInterrupts: {
      control::Window* window =
          action == FaultRule::kStopDraining ? f.mutable_stop_draining() : f.mutable_withhold_interrupts();
      u32("ms", [window](auto v) { window->set_ms(v); });
      break;
    }
    case FaultRule::ACTION_NOT_SET: break;
  }
  if (!ok) return Err(why);
  if (!kv.empty()) return Err(fmt::format("{} takes no key '{}'", w[1], kv.begin()->first));
  return r;
}

}  // namespace

std::string fault_words(const google::protobuf::RepeatedPtrField<control::ActiveFault>& faults,
                        std::string_view label) {
  if (faults.empty()) return {};
  std::string out = fmt::format("{}=[", label);
  for (int i = 0; i < faults.size(); ++i) {
    if (i > 0) out += "; ";
    out += faults[i].text();
  }
  return out + "]";
}

namespace {

std::string state_line(const control::State& s) {
  std::string out = "ok";
  if (!s.session_up()) {
    out += " session=none";
  } else {
    const std::uint32_t v = s.version();
    out += fmt::format(" session=up connection={} version={} released={} backlog={}", s.connection(),
                       v != 0 ? fmt::format("{}.{}", v >> 16, v & 0xffff) : std::string("none"), s.released(),
                       s.backlog());
  }
  for (const control::Channel& ch : s.channel()) out += " | " + ch.text();
  if (!s.any_channel_fault().empty()) out += " | " + fault_words(s.any_channel_fault(), "faults(any relid)");
  return out;
}

Result<Request, std::string> parse(const std::vector<std::string_view>& w) {
  if (w.empty()) return Err(std::string("empty command"));
  const std::string_view cmd = w[0];
  if (cmd == "state") {
    Request r;
    r.mutable_state();
    return r;
  }
  if (cmd == "rescind" || cmd == "reoffer" || cmd == "fail-open") return parse_channel(cmd, w);
  if (cmd == "key") return parse_key(w);
  if (cmd == "blob-delay") return parse_blob_delay(w);
  if (cmd == "blob-inject") return parse_blob_inject(w);
  if (cmd == "blob-drop") return parse_blob_drop(w);
  if (cmd == "blob-reset") {
    if (w.size() != 2) return Err(std::string("usage: blob-reset <relid>"));
    const auto relid = number(w[1], "a relid");
    if (!relid.ok()) return Err(relid.error());
    Request r;
    r.mutable_blob_reset()->set_relid(*relid);
    return r;
  }
  if (cmd == "trace-dump") {
    if (w.size() != 2) return Err(std::string("usage: trace-dump <path>"));
    Request r;
    r.mutable_trace_dump()->set_path(std::string(w[1]));
    return r;
  }
  if (cmd == "fault") return parse_fault(w);
  if (cmd == "faults") {
    if (w.size() != 1) return Err(std::string("usage: faults"));
    Request r;
    r.mutable_list_faults();
    return r;
  }
  if (cmd == "fault-clear") {
    if (w.size() > 2) return Err(std::string("usage: fault-clear [relid]"));
    Request r;
    r.mutable_clear_faults();
    std::string why;
    if (w.size() == 2 &&
        !take<std::uint32_t>(w[1], "a relid", why, [&](auto v) { r.mutable_clear_faults()->set_relid(v); })) {
      return Err(why);
    }
    return r;
  }
  if (cmd == "trace-clear") {
    Request r;
    r.mutable_trace_clear();
    return r;
  }
  return Err(fmt::format("unknown command '{}' (try help)", cmd));
}

std::string answer(const control::Response& response) {
  if (!response.ok()) return "error " + response.error();
  if (response.has_state()) return state_line(response.state());
  if (response.has_faults()) {
    std::string out = "ok";
    for (const control::ActiveFault& f : response.faults().fault()) out += " | " + f.text();
    return out;
  }
  if (response.fault_id() != 0) return fmt::format("ok fault_id={}", response.fault_id());
  if (response.has_trace_dump()) {
    return fmt::format("ok {} {}", response.trace_dump().events(), response.trace_dump().dropped());
  }
  if (!response.note().empty()) return "ok " + response.note();
  return "ok";
}

}  // namespace

std::string run_text_command(std::string_view line,
                             const std::function<control::Response(const control::Request&)>& execute) {
  const auto w = words(line);
  if (!w.empty() && w[0] == "help") {
    return "ok state rescind reoffer fail-open key blob-delay blob-inject blob-drop blob-reset fault faults "
           "fault-clear trace-dump trace-clear help";
  }
  auto request = parse(w);
  if (!request.ok()) return "error " + request.error();
  return answer(execute(*request));
}

}  // namespace vscsim::host

#include "vscsim/checkers/request_accounting.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace vscsim::checkers {

namespace {

// VMBus facts (include/linux/hyperv.h): packet types, the completion flag,
// channel message types.
constexpr std::uint32_t kInband = 6;
constexpr std::uint32_t kGpaDirect = 9;
constexpr std::uint32_t kCompletion = 11;
constexpr std::uint32_t kCompletionRequested = 1;
constexpr std::uint32_t kOfferChannel = 1;
constexpr std::uint32_t kRescindChannelOffer = 2;
constexpr std::size_t kFindingsPerKind = 5;

struct Channel {
  std::set<std::uint64_t> open;
  // Completions the host announced it would send for ids not in flight (a
  // duplicate, a wrong id): expected, not stray.
  std::map<std::uint64_t, std::uint64_t> announced;
  bool rescinded = false;
};

}  // namespace

std::string AccountingReport::summary() const {
  return fmt::format(
      "requests={} completions={} unanswered={} unanswered_at_rescind={} duplicate_ids={} "
      "stray_completions={} sent_after_rescind={} dropped_by_host={} announced_completions={}{}",
      requests, completions, unanswered, unanswered_at_rescind, duplicate_ids, stray_completions,
      sent_after_rescind, dropped_by_host, announced_completions, truncated ? " (trace truncated)" : "");
}

Result<AccountingReport, std::string> account_requests(std::string_view json_lines,
                                                       const std::set<std::uint32_t>& relids) {
  AccountingReport r;
  std::map<std::uint32_t, Channel> channels;
  std::map<std::string, std::size_t> per_kind;
  auto find = [&](const std::string& kind, const std::string& what) {
    if (per_kind[kind]++ < kFindingsPerKind) r.findings.push_back(kind + ": " + what);
  };
  std::size_t line_no = 0;
  bool ended = false;
  while (!json_lines.empty()) {
    const auto nl = json_lines.find('\n');
    const std::string_view line = json_lines.substr(0, nl);
    json_lines = nl == std::string_view::npos ? std::string_view{} : json_lines.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Err(fmt::format("trace line {}: not a JSON object", line_no));
    if (j.contains("end")) {
      r.truncated = j.value("dropped", 0) != 0;
      ended = true;
      continue;
    }
    try {
      const std::string kind = j.at("kind").get<std::string>();
      const auto relid = j.at("relid").get<std::uint32_t>();
      const auto type = j.at("type").get<std::uint32_t>();
      const auto flags = j.at("flags").get<std::uint32_t>();
      const auto id = j.at("trans_id").get<std::uint64_t>();
      if (!relids.empty() && relids.count(relid) == 0) continue;
      Channel& ch = channels[relid];
      if (kind == "host_message" && type == kOfferChannel) {
        ch = Channel{};  // a (re)offer starts the relid's life again
      } else if (kind == "host_message" && type == kRescindChannelOffer) {
        r.unanswered_at_rescind += ch.open.size();
        ch.open.clear();
        ch.rescinded = true;
      } else if (kind == "guest_packet") {
        if (ch.rescinded) {
          ++r.sent_after_rescind;
          find("sent after rescind", fmt::format("trace line {}: relid {} type {} id {}", line_no, relid, type, id));
        }
        if ((type == kGpaDirect || type == kInband) && (flags & kCompletionRequested) != 0 && id != 0) {
          ++r.requests;
          if (!ch.open.insert(id).second) {
            ++r.duplicate_ids;
            find("duplicate id", fmt::format("trace line {}: relid {} id {} already in flight", line_no, relid, id));
          }
        }
      } else if (kind == "host_fault") {
        // vsp-sim's deliberate faults (vsp_sim/host/README.md): those that
        // leave a request unanswered close it as the host's doing, those
        // that send extra completions announce them; the rest (delays,
        // corrupt or short answers, interrupts, rescinds) change nothing here.
        const std::string fault = j.value("fault", std::string());
        if (fault == "drop_completion" || fault == "wrong_id") {
          if (ch.open.erase(id) != 0) {
            ++r.dropped_by_host;
          } else {
            find("stray drop", fmt::format("trace line {}: relid {} id {} {} but not in flight", line_no, relid, id,
                                           fault));
          }
          if (fault == "wrong_id") ++ch.announced[j.value("arg", std::uint64_t{0})];
        } else if (fault == "duplicate_completion") {
          ++ch.announced[id];
        }
      } else if (kind == "host_packet" && type == kCompletion) {
        ++r.completions;
        if (ch.open.erase(id) == 0) {
          if (auto it = ch.announced.find(id); it != ch.announced.end() && it->second > 0) {
            --it->second;
            ++r.announced_completions;
          } else {
            ++r.stray_completions;
            find("stray completion", fmt::format("trace line {}: relid {} id {} not in flight", line_no, relid, id));
          }
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return Err(fmt::format("trace line {}: {}", line_no, e.what()));
    }
  }
  if (!ended) return Err(std::string("the trace has no end line: cut short"));
  for (const auto& [relid, ch] : channels) {
    r.unanswered += ch.open.size();
    for (const std::uint64_t id : ch.open) find("unanswered", fmt::format("relid {} id {}", relid, id));
  }
  return r;
}

}  // namespace vscsim::checkers

#include "vscsim/checkers/console_scanner.h"

#include <array>
#include <regex>

namespace vscsim::checkers {
namespace {

struct Pattern {
  const char* kind;
  std::regex re;  // matched against the message, after the timestamp
};

// Order matters: the first match names the kind (lockdep's reports start with
// "WARNING:", soft lockups with "watchdog: BUG:").
const std::array<Pattern, 13>& patterns() {
  static const std::array<Pattern, 13> table = {{
      {"lockdep", std::regex(R"(^WARNING: (possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|bad unlock balance|lock held when returning))")},
      {"lockdep", std::regex(R"(^(INFO: possible irq lock inversion|BUG: (sleeping function called from invalid context|scheduling while atomic)))")},
      {"soft lockup", std::regex(R"(^watchdog: BUG: soft lockup)")},
      {"hard lockup", std::regex(R"(^(watchdog: )?Watchdog detected hard LOCKUP)")},
      {"hung task", std::regex(R"(^INFO: task .* blocked for more than)")},
      {"RCU stall", std::regex(R"(^rcu: INFO: \w+ (self-)?detected stall)")},
      {"KASAN", std::regex(R"(^(BUG: KASAN:|KASAN:))")},
      {"KFENCE", std::regex(R"(^BUG: KFENCE:)")},
      {"UBSAN", std::regex(R"(^UBSAN:)")},
      {"BUG", std::regex(R"(^(BUG:|kernel BUG at))")},
      {"WARNING", std::regex(R"(^WARNING:)")},
      {"general protection fault", std::regex(R"(^general protection fault)")},
      {"Oops", std::regex(R"(^(Oops|Kernel panic|Unable to handle kernel|BUG: unable to handle))")},
  }};
  return table;
}

// "[    1.234567] message" -> "message"; anything else is not a kernel line.
bool kernel_message(std::string_view line, std::string_view& message) {
  if (line.empty() || line.front() != '[') return false;
  const auto close = line.find("] ");
  if (close == std::string_view::npos || close > 20) return false;
  for (char c : line.substr(1, close - 1)) {
    if (c != ' ' && c != '.' && (c < '0' || c > '9')) return false;
  }
  message = line.substr(close + 2);
  return true;
}

}  // namespace

std::vector<ConsoleFinding> scan_console(std::string_view text) {
  std::vector<ConsoleFinding> findings;
  std::uint32_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view message;
    if (!kernel_message(line, message)) continue;
    const std::string owned(message);
    for (const auto& p : patterns()) {
      if (std::regex_search(owned, p.re)) {
        findings.push_back({p.kind, number, std::string(line)});
        break;
      }
    }
  }
  return findings;
}

std::string describe(const std::vector<ConsoleFinding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += f.kind + " at line " + std::to_string(f.line_number) + ": " + f.line + "\n";
  }
  return out;
}

}  // namespace vscsim::checkers

#include "vscsim/checkers/console_scanner.h"

namespace vscsim::checkers {
namespace {

// A kernel report: the message starts with `prefix` and, if `contains` is set,
// also contains it. Plain string matching: the reports are fixed texts, and
// std::regex is slow and trips GCC 12's -Wmaybe-uninitialized under ASan.
struct Pattern {
  const char* kind;
  std::string_view prefix;
  std::string_view contains = {};
};

// Order matters: the first match names the kind (lockdep's reports start with
// "WARNING:", soft lockups with "watchdog: BUG:", KASAN with "BUG: KASAN:").
constexpr Pattern kPatterns[] = {
    {"lockdep", "WARNING: possible circular locking"},
    {"lockdep", "WARNING: possible recursive locking"},
    {"lockdep", "WARNING: inconsistent lock state"},
    {"lockdep", "WARNING: suspicious RCU usage"},
    {"lockdep", "WARNING: bad unlock balance"},
    {"lockdep", "WARNING: lock held when returning"},
    {"lockdep", "INFO: possible irq lock inversion"},
    {"lockdep", "BUG: sleeping function called from invalid context"},
    {"lockdep", "BUG: scheduling while atomic"},
    {"soft lockup", "watchdog: BUG: soft lockup"},
    {"hard lockup", "watchdog: Watchdog detected hard LOCKUP"},
    {"hard lockup", "Watchdog detected hard LOCKUP"},
    {"hung task", "INFO: task ", " blocked for more than"},
    {"RCU stall", "rcu: INFO: ", "detected stall"},
    {"KASAN", "BUG: KASAN:"},
    {"KASAN", "KASAN:"},
    {"KFENCE", "BUG: KFENCE:"},
    {"UBSAN", "UBSAN:"},
    {"BUG", "BUG:"},
    {"BUG", "kernel BUG at"},
    {"WARNING", "WARNING:"},
    {"general protection fault", "general protection fault"},
    {"Oops", "Oops"},
    {"Oops", "Kernel panic"},
    {"Oops", "Unable to handle kernel"},
};

const Pattern* match(std::string_view message) {
  for (const auto& p : kPatterns) {
    if (message.substr(0, p.prefix.size()) != p.prefix) continue;
    if (!p.contains.empty() && message.find(p.contains) == std::string_view::npos) continue;
    return &p;
  }
  return nullptr;
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

void for_each_kernel_line(std::string_view text,
                          const std::function<void(std::uint32_t, std::string_view, std::string_view)>& each) {
  std::uint32_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view message;
    if (kernel_message(line, message)) each(number, line, message);
  }
}

std::vector<ConsoleFinding> scan_console(std::string_view text) {
  std::vector<ConsoleFinding> findings;
  for_each_kernel_line(text, [&](std::uint32_t number, std::string_view line, std::string_view message) {
    if (const Pattern* p = match(message)) findings.push_back({p->kind, number, std::string(line)});
  });
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

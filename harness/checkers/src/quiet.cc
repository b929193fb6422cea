#include "vscsim/checkers/quiet.h"

#include "vscsim/checkers/console_scanner.h"

namespace vscsim::checkers {
namespace {

// Lines kept per noisy module for the message: enough to see what it says.
constexpr std::size_t kShownLines = 5;

// What the module loader prints under the module's name when it loads an
// unsigned, out-of-tree module: the kernel's words, not the driver's.
constexpr std::string_view kLoaderNotices[] = {
    "loading out-of-tree module taints kernel",
    "module verification failed",
};

bool printed_by(std::string_view message, std::string_view module) {
  if (message.size() <= module.size() || message.substr(0, module.size()) != module) return false;
  const char after = message[module.size()];
  if (after == ' ') return true;  // dev_*(): "<driver> <device>: ..."
  if (after != ':') return false;
  auto rest = message.substr(module.size() + 1);
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  for (const auto notice : kLoaderNotices) {
    if (rest.substr(0, notice.size()) == notice) return false;
  }
  return true;
}

}  // namespace

std::vector<NoisyModule> check_quiet(std::string_view console, const std::vector<std::string>& modules,
                                     std::uint32_t max_lines) {
  std::vector<NoisyModule> counts(modules.size());
  for (std::size_t i = 0; i < modules.size(); ++i) counts[i].module = modules[i];
  for_each_kernel_line(console, [&](std::uint32_t, std::string_view line, std::string_view message) {
    for (auto& c : counts) {
      if (!printed_by(message, c.module)) continue;
      ++c.count;
      if (c.lines.size() < kShownLines) c.lines.emplace_back(line);
    }
  });
  std::vector<NoisyModule> noisy;
  for (auto& c : counts) {
    if (c.count > max_lines) noisy.push_back(std::move(c));
  }
  return noisy;
}

std::string describe(const std::vector<NoisyModule>& noisy, std::uint32_t max_lines) {
  std::string out;
  for (const auto& n : noisy) {
    out += n.module + " printed " + std::to_string(n.count) + " console line(s), at most " +
           std::to_string(max_lines) + " allowed:\n";
    for (const auto& l : n.lines) out += "  " + l + "\n";
    if (n.count > n.lines.size()) out += "  ... " + std::to_string(n.count - n.lines.size()) + " more\n";
  }
  return out;
}

}  // namespace vscsim::checkers

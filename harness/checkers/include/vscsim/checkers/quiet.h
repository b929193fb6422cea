// Quiet check (catalogue item 11): a working driver writes nothing to the
// console, and errors that a user can trigger at will must not flood it. This
// counts, per named module, the kernel console lines the module printed and
// says which modules printed more than they may.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vscsim::checkers {

struct NoisyModule {
  std::string module;
  std::uint32_t count = 0;                 // lines the module printed
  std::vector<std::string> lines;          // the first few of them, timestamps included
};

// Only kernel lines count (a printk timestamp, as in scan_console). A line is
// the module's when its message starts with "<module> " (dev_*(): the
// driver's name, then the device's name and a colon) or "<module>:" (pr_*()
// with the usual pr_fmt). The kernel's own notices about loading the module
// (tainting, a missing signature) are not the driver's and do not count.
// A module that printed more than `max_lines` lines is returned, in the
// order of `modules`.
std::vector<NoisyModule> check_quiet(std::string_view console, const std::vector<std::string>& modules,
                                     std::uint32_t max_lines);

// "<module> printed <n> console line(s), at most <max> allowed:" and the
// lines, one finding after the other, for the failure message.
std::string describe(const std::vector<NoisyModule>& noisy, std::uint32_t max_lines);

}  // namespace vscsim::checkers

// Console scanner: finds the kernel's own reports of trouble in a captured
// serial console (BUG, WARNING, KASAN, oops, hung task, RCU stall, soft
// lockup, lockdep). A finding means the guest kernel said something went
// wrong; the scanner never decides that a finding is harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vscsim::checkers {

struct ConsoleFinding {
  std::string kind;          // "BUG", "WARNING", "lockdep", "KASAN", "Oops", ...
  std::uint32_t line_number; // 1-based
  std::string line;          // the console line, timestamp included
};

// Scans console text line by line. Only lines written by the kernel (those that
// start with a printk timestamp "[    1.234567] ") are considered, so text that
// user space echoes (or the kernel command line) cannot raise a finding.
std::vector<ConsoleFinding> scan_console(std::string_view text);

// Calls `each(line_number, line, message)` for every kernel line of `text`
// (1-based numbers; `line` without its line end, `message` after the
// timestamp): what the console's checkers look at.
void for_each_kernel_line(std::string_view text,
                          const std::function<void(std::uint32_t, std::string_view, std::string_view)>& each);

// One line per finding, "<kind> at line <n>: <line>", for error messages.
std::string describe(const std::vector<ConsoleFinding>& findings);

}  // namespace vscsim::checkers

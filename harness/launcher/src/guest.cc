#include "vscsim/launcher/guest.h"

#include <fstream>
#include <sstream>

#include "vscsim/launcher/stop_signal.h"

namespace vscsim::launcher {

std::string ExitInfo::describe() const {
  std::string s = exited ? "exited with code " + std::to_string(code)
                         : "killed by signal " + std::to_string(signal);
  if (killed_at_deadline) s += " (deadline reached)";
  return s;
}

std::string_view to_string(WaitStatus status) {
  switch (status) {
    case WaitStatus::Found: return "found";
    case WaitStatus::GuestExited: return "guest exited";
    case WaitStatus::TimedOut: return "timed out";
    case WaitStatus::StopRequested: return "stop requested";
  }
  return "?";
}

void Guest::read_console_file() {
  std::ifstream in(console_log(), std::ios::binary);
  if (!in) return;  // gone with the run folder; what was read stays
  in.seekg(static_cast<std::streamoff>(console_read_));
  std::ostringstream more;
  more << in.rdbuf();
  const std::string chunk = more.str();
  console_ += chunk;
  console_read_ += chunk.size();
}

const std::string& Guest::console() {
  read_console_file();
  return console_;
}

WaitResult Guest::wait_for_console(std::string_view needle, std::chrono::milliseconds timeout,
                                   std::size_t from) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string& text = console();
    const std::size_t start = std::min(from, text.size());
    if (const auto at = text.find(needle, start); at != std::string::npos) {
      return {WaitStatus::Found, at + needle.size()};
    }
    if (!running()) {
      // Read what the guest wrote before it ended.
      const std::string& last = console();
      if (const auto at = last.find(needle, start); at != std::string::npos) {
        return {WaitStatus::Found, at + needle.size()};
      }
      return {WaitStatus::GuestExited};
    }
    if (stop_requested()) return {WaitStatus::StopRequested};
    if (std::chrono::steady_clock::now() >= until) return {WaitStatus::TimedOut};
    // Wake when the guest ends, else look at the console file every 5 ms.
    wait_for_exit(std::chrono::milliseconds(5));
  }
}

}  // namespace vscsim::launcher

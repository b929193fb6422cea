// The transport's logging hook. The transport does not own a logger: whoever
// builds it passes a sink (the daemon writes to stderr with a level filter).
// Messages caused by the guest are emitted once per state change (a mailbox
// turns broken once), so a guest cannot flood the host's log through them.
#pragma once

#include <functional>
#include <string_view>

namespace vscsim::transport {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

using LogSink = std::function<void(LogLevel, std::string_view)>;

[[nodiscard]] constexpr std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace vscsim::transport

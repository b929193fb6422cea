// Logging, and the rate limiter that keeps a guest from flooding the host log.
//
// Anything a guest can trigger at will (a malformed packet, a bad index) is
// logged through VSCSIM_LOG_RATELIMITED: each call site owns a token bucket;
// over budget, lines are counted instead of printed, and the next line that
// gets through says how many were suppressed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace vscsim::log {

enum class Level { kDebug, kInfo, kWarning, kError };

std::string_view level_name(Level level);

// Where log lines go. The default sink writes "vscsim <level>: <text>" to stderr.
// Tests install their own sink to count lines. Passing an empty function
// restores the default.
using Sink = std::function<void(Level, std::string_view)>;
void set_sink(Sink sink);

void write(Level level, std::string_view text);

template <class... Args>
void logf(Level level, fmt::format_string<Args...> format, Args&&... args) {
  write(level, fmt::format(format, std::forward<Args>(args)...));
}

// Token bucket: up to `burst` lines at once, then one more line per
// `refill_interval`. Thread-safe. The clock is a parameter so tests control it.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed;
    // When allowed: lines dropped at this site since the last allowed one.
    std::uint64_t suppressed_before;
  };

  RateLimiter(std::uint32_t burst, Clock::duration refill_interval);

  Decision check(Clock::time_point now);

 private:
  std::mutex mu_;
  const std::uint32_t burst_;
  const Clock::duration refill_interval_;
  std::uint32_t tokens_;
  Clock::time_point last_refill_{};
  bool started_ = false;
  std::uint64_t suppressed_ = 0;
};

// Default budget of a call site: 10 lines at once, then one per second.
inline constexpr std::uint32_t kDefaultBurst = 10;
inline constexpr std::chrono::seconds kDefaultRefill{1};

// Writes `text` if the limiter allows it, with the suppressed count appended.
void write_limited(RateLimiter& limiter, Level level, std::string_view text,
                   RateLimiter::Clock::time_point now = RateLimiter::Clock::now());

}  // namespace vscsim::log

// Rate-limited log line with one token bucket per call site.
#define VSCSIM_LOG_RATELIMITED(level, ...)                                             \
  do {                                                                                 \
    static ::vscsim::log::RateLimiter vscsim_call_site_limiter_{                       \
        ::vscsim::log::kDefaultBurst, ::vscsim::log::kDefaultRefill};                  \
    ::vscsim::log::write_limited(vscsim_call_site_limiter_, (level),                   \
                                 ::fmt::format(__VA_ARGS__));                          \
  } while (0)

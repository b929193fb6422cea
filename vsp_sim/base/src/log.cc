#include "vscsim/base/log.h"

#include <cstdio>
#include <utility>

namespace vscsim::log {
namespace {

std::mutex& sink_mutex() {
  static std::mutex mu;
  return mu;
}

Sink& sink_slot() {
  static Sink sink;
  return sink;
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "?";
}

void set_sink(Sink sink) {
  std::lock_guard lock(sink_mutex());
  sink_slot() = std::move(sink);
}

void write(Level level, std::string_view text) {
  std::lock_guard lock(sink_mutex());
  if (sink_slot()) {
    sink_slot()(level, text);
    return;
  }
  fmt::print(stderr, "vscsim {}: {}\n", level_name(level), text);
}

RateLimiter::RateLimiter(std::uint32_t burst, Clock::duration refill_interval)
    : burst_(burst == 0 ? 1 : burst),
      refill_interval_(refill_interval <= Clock::duration::zero() ? Clock::duration(1)
                                                                  : refill_interval),
      tokens_(burst_) {}

RateLimiter::Decision RateLimiter::check(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!started_) {
    started_ = true;
    last_refill_ = now;
  }
  if (now > last_refill_) {
    const auto periods = static_cast<std::uint64_t>((now - last_refill_) / refill_interval_);
    if (periods > 0) {
      const std::uint64_t room = burst_ - tokens_;
      if (periods >= room) {
        tokens_ = burst_;
        last_refill_ = now;
      } else {
        tokens_ += static_cast<std::uint32_t>(periods);
        last_refill_ += refill_interval_ * static_cast<std::int64_t>(periods);
      }
    }
  }
  if (tokens_ == 0) {
    ++suppressed_;
    return {false, 0};
  }
  --tokens_;
  const std::uint64_t dropped = std::exchange(suppressed_, 0);
  return {true, dropped};
}

void write_limited(RateLimiter& limiter, Level level, std::string_view text,
                   RateLimiter::Clock::time_point now) {
  const RateLimiter::Decision d = limiter.check(now);
  if (!d.allowed) return;
  if (d.suppressed_before == 0) {
    write(level, text);
  } else {
    write(level, fmt::format("{} (suppressed {} similar messages)", text, d.suppressed_before));
  }
}

}  // namespace vscsim::log

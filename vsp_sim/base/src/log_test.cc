#include "vscsim/base/log.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace vscsim::log {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

// Captures log lines for the lifetime of the fixture.
struct CaptureSink {
  CaptureSink() {
    set_sink([this](Level, std::string_view text) { lines.emplace_back(text); });
  }
  ~CaptureSink() { set_sink(nullptr); }
  std::vector<std::string> lines;
};

BOOST_AUTO_TEST_SUITE(rate_limiter)

BOOST_AUTO_TEST_CASE(limiter_allows_burst_then_suppresses) {
  RateLimiter rl(3, 1s);
  const Clock::time_point t0{};
  BOOST_TEST(rl.check(t0).allowed);
  BOOST_TEST(rl.check(t0).allowed);
  BOOST_TEST(rl.check(t0).allowed);
  BOOST_TEST(!rl.check(t0).allowed);
  BOOST_TEST(!rl.check(t0 + 999ms).allowed);
}

BOOST_AUTO_TEST_CASE(limiter_refills_one_token_per_interval_and_counts_suppressed) {
  RateLimiter rl(2, 1s);
  const Clock::time_point t0{};
  BOOST_TEST(rl.check(t0).allowed);
  BOOST_TEST(rl.check(t0).allowed);
  for (int i = 0; i < 5; ++i) BOOST_TEST(!rl.check(t0).allowed);
  const auto d = rl.check(t0 + 1s);
  BOOST_TEST(d.allowed);
  BOOST_TEST(d.suppressed_before == 5u);
  BOOST_TEST(!rl.check(t0 + 1s).allowed);
  // The count restarts after it has been reported.
  const auto d2 = rl.check(t0 + 2s);
  BOOST_TEST(d2.allowed);
  BOOST_TEST(d2.suppressed_before == 1u);
}

BOOST_AUTO_TEST_CASE(limiter_never_holds_more_than_burst) {
  RateLimiter rl(2, 1s);
  const Clock::time_point t0{};
  BOOST_TEST(rl.check(t0).allowed);
  // A long quiet period refills to the burst, not beyond it.
  const Clock::time_point later = t0 + 1h;
  BOOST_TEST(rl.check(later).allowed);
  BOOST_TEST(rl.check(later).allowed);
  BOOST_TEST(!rl.check(later).allowed);
}

BOOST_AUTO_TEST_CASE(ratelimited_macro_bounds_a_flood_from_one_call_site) {
  CaptureSink capture;
  for (int i = 0; i < 1000; ++i) {
    VSCSIM_LOG_RATELIMITED(Level::kWarning, "guest sent junk #{}", i);
  }
  // The loop runs well within one refill interval: only the burst gets through.
  BOOST_TEST(capture.lines.size() <= kDefaultBurst + 1);
  BOOST_TEST(capture.lines.size() >= kDefaultBurst);
  BOOST_TEST(capture.lines.front() == "guest sent junk #0");
}

BOOST_AUTO_TEST_CASE(write_limited_appends_suppressed_count) {
  CaptureSink capture;
  RateLimiter rl(1, 1s);
  const Clock::time_point t0{};
  write_limited(rl, Level::kError, "first", t0);
  write_limited(rl, Level::kError, "dropped", t0);
  write_limited(rl, Level::kError, "dropped", t0);
  BOOST_TEST(capture.lines.size() == 1u);
  write_limited(rl, Level::kError, "again", t0 + 1s);
  BOOST_TEST(capture.lines.size() == 2u);
  BOOST_TEST(capture.lines.back() == "again (suppressed 2 similar messages)");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::log

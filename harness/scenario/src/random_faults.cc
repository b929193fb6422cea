#include "vscsim/scenario/random_faults.h"

#include "vscsim/scenario/plan.h"

namespace vscsim::scenario {

namespace {

// A splitmix64 stream: each draw is the next mix64 of a counter.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ull); }
  // Uniform enough in [lo, hi] for small ranges.
  std::uint32_t between(std::uint32_t lo, std::uint32_t hi) {
    return lo + static_cast<std::uint32_t>(next() % (std::uint64_t{hi} - lo + 1));
  }

 private:
  std::uint64_t state_;
};

}  // namespace

std::vector<FaultRule> draw_fault_rules(const Scenario& scenario, std::uint64_t seed) {
  std::vector<std::string> blobs;
  for (const auto& d : scenario.setup().device()) {
    if (d.kind() == "blob") blobs.push_back(d.name());
  }
  std::vector<FaultRule> out;
  if (blobs.empty()) return out;
  // Its own stream, apart from the other uses of the scenario seed.
  Draw draw(seed ^ fnv1a64("random fault rules"));
  for (std::uint32_t i = 0; i < scenario.faults().random_rules(); ++i) {
    FaultRule rule;
    rule.set_device(blobs[draw.between(0, static_cast<std::uint32_t>(blobs.size() - 1))]);
    switch (draw.between(0, std::size(kRandomActions) - 1)) {
      case 0:  // answers late, sometimes past a short request timeout
        rule.set_delay_ms(draw.between(1, 20) * 50);
        break;
      default:  // one answer lost, after a few went through
        rule.set_drop_completion(true);
        rule.set_count(1);
        rule.set_after_requests(draw.between(0, 4));
        break;
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace vscsim::scenario

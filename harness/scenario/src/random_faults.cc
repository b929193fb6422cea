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
      case 0:  // answers late
        rule.set_delay_ms(draw.between(1, 20) * 50);
        break;
      case 1:  // one answer lost, after a few went through
        rule.set_drop_completion(true);
        rule.set_count(1);
        rule.set_after_requests(draw.between(0, 4));
        break;
      case 2:
        rule.set_duplicate_completion(true);
        rule.set_count(draw.between(1, 3));
        break;
      case 3:
        rule.set_reorder_completion(true);
        break;
      case 4: {  // one answer under another id: the request stays unanswered
        static constexpr control::WrongId::Kind kKinds[] = {control::WrongId::ZERO, control::WrongId::UNKNOWN,
                                                            control::WrongId::STALE};
        rule.mutable_wrong_id()->set_kind(kKinds[draw.between(0, 2)]);
        rule.set_count(1);
        rule.set_after_requests(draw.between(0, 4));
        break;
      }
      case 5:  // one short answer
        rule.set_truncate(draw.between(1, 11));
        rule.set_count(1);
        rule.set_after_requests(draw.between(0, 4));
        break;
      case 6:  // one answer claiming more than any buffer
        rule.mutable_oversize_response_len();
        rule.set_count(1);
        rule.set_after_requests(draw.between(0, 4));
        break;
      case 7:
        rule.set_spray_interrupts(draw.between(1, 64));
        break;
      default:  // answers written, the guest told only after a while
        rule.mutable_withhold_interrupts()->set_ms(draw.between(1, 10) * 50);
        break;
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace vscsim::scenario

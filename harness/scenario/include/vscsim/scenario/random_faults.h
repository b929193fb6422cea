// The seeded random fault mode: a scenario's `faults.random_rules: N` asks
// for N more fault rules drawn from the iteration's seed, so a campaign
// (`--repeat 1000`) explores host misbehaviour while any one iteration can be
// replayed exactly (`--filter <name> --seed <round seed>`). The drawn rules
// are part of the plan and printed with it before the run starts.
//
// A draw only uses actions vsp-sim can carry out (kRandomActions) on the
// scenario's blob devices; a scenario that uses random rules must therefore
// expect the errors those faults cause (any_errno: success, ETIMEDOUT, EIO;
// delays stay under 1 s, so a request timeout above that only expires for an
// answer that never comes) and leaves the verdict to
// the checkers that judge the driver whatever the host does: deadline,
// accounting, leak, console.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "vscsim/scenario.pb.h"

namespace vscsim::scenario {

// The actions a random rule may take, by FaultRule field name.
// Each leaves a request answered (perhaps late, twice, out of order, with
// extra interrupts), failed by the driver (EIO: a short or oversized answer)
// or unanswered (ETIMEDOUT at the request's own timeout); none changes a
// successful answer's contents, so a scenario's expectations can list the
// errnos and still check data.
inline constexpr std::string_view kRandomActions[] = {
    "delay_ms", "drop_completion", "duplicate_completion", "reorder_completion", "wrong_id",
    "truncate", "oversize_response_len", "spray_interrupts", "withhold_interrupts"};

// `scenario.faults().random_rules()` rules drawn from `seed`: the same seed
// gives the same rules. None if the scenario has no blob device.
std::vector<FaultRule> draw_fault_rules(const Scenario& scenario, std::uint64_t seed);

}  // namespace vscsim::scenario

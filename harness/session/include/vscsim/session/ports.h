// The runner's two ports (runner/engine.h) over the real things: the guest
// agent (AgentClient) and vsp-sim's protobuf control socket (SimControl).
#pragma once

#include <string>
#include <vector>

#include "vscsim/agent/client.h"
#include "vscsim/base/result.h"
#include "vscsim/control.pb.h"
#include "vscsim/runner/engine.h"
#include "vscsim/scenario.pb.h"
#include "vscsim/simctl/sim_process.h"

namespace vscsim::session {

class AgentGuestPort final : public runner::GuestPort {
 public:
  explicit AgentGuestPort(agent::AgentClient& client) : client_(client) {}
  Result<std::uint64_t, std::string> submit(const agent::Run& run) override;
  Result<std::optional<std::pair<std::uint64_t, agent::OpResult>>, std::string> next(
      runner::Clock::time_point deadline) override;

 private:
  agent::AgentClient& client_;
};

// Host steps as control requests; device names become relids through `setup`.
class SimHostPort final : public runner::HostPort {
 public:
  SimHostPort(simctl::SimControl& control, const scenario::Setup& setup) : control_(control), setup_(setup) {}
  Result<void, std::string> run(const scenario::HostStep& step, runner::Clock::time_point deadline) override;

 private:
  Result<std::uint32_t, std::string> relid(const std::string& device) const;
  Result<control::Response, std::string> call(const control::Request& request, runner::Clock::time_point deadline);

  simctl::SimControl& control_;
  const scenario::Setup& setup_;
};

// The scenario's fault plan as control requests, to send before its steps.
// What the simulator cannot do yet (the fault engine of issue 7: duplicate
// completions, rescind rules, random rules, counted delays) is refused with
// the rule's index and why, so a scenario never runs without its faults.
Result<std::vector<control::Request>, std::string> fault_requests(const scenario::Scenario& scenario);

}  // namespace vscsim::session

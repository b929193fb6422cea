// The step engine: runs one scenario's steps on its actors (each guest
// thread, and the host), with barriers, deadlines and expectations, against
// two ports: the guest agent and the simulator. vsc-harness gives it the
// real ones (AgentClient, vsp-sim's control socket); tests give it fakes.
//
//   guest threads  driven from the calling thread: a thread's next operation
//                  is submitted to the agent when its previous one answered
//                  (several threads' operations are in flight at once); its
//                  answer is judged against the step's `expect`.
//   host           its own std::thread, one step after another (a host step
//                  may block: sleep, wait_state).
//   barriers       an actor reaching one waits until every actor that names
//                  it has reached it.
// The first failure is kept (checker "expectation" or "deadline", or a
// harness error); an expectation that is not met does not stop the others,
// a deadline does: the stuck actor cannot go on, so the scenario ends and
// the steps not reached are NOT_RUN.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vscsim/agent.pb.h"
#include "vscsim/base/result.h"
#include "vscsim/report.pb.h"
#include "vscsim/scenario.pb.h"

namespace vscsim::runner {

using Clock = std::chrono::steady_clock;

class GuestPort {
 public:
  virtual ~GuestPort() = default;
  // Sends one operation; returns its id.
  virtual Result<std::uint64_t, std::string> submit(const agent::Run& run) = 0;
  // The next answer to any submitted operation, or nullopt if none came by
  // `deadline`. An error means the agent is gone.
  virtual Result<std::optional<std::pair<std::uint64_t, agent::OpResult>>, std::string> next(
      Clock::time_point deadline) = 0;
};

class HostPort {
 public:
  virtual ~HostPort() = default;
  // Runs one host action (never a barrier), returning when it is done; fails
  // with why if it cannot be done by `deadline`. Called from the host actor's
  // thread only.
  virtual Result<void, std::string> run(const scenario::HostStep& step, Clock::time_point deadline) = 0;
};

struct Failure {
  std::string checker;         // "expectation", "deadline"; empty for a harness error
  std::string message;
  bool harness_error = false;  // the harness or simulator failed, not the driver
};

struct Outcome {
  // Every step: the threads' in scenario order, then the host's.
  std::vector<report::StepResult> steps;
  std::optional<Failure> failure;
  double duration_s = 0;
};

// `scenario` must have been validated and have its defaults written out
// (scenario::load_scenario does both).
Outcome run_steps(const scenario::Scenario& scenario, GuestPort& guest, HostPort& host);

}  // namespace vscsim::runner

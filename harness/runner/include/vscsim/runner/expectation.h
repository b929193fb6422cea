// Judging one guest operation's result against its step's `expect`
// (scenario.proto). A step without an expectation must succeed: errno 0, and
// for a blob call also wire status 0 and payload status OK.
#pragma once

#include <map>
#include <string>

#include "vscsim/agent.pb.h"
#include "vscsim/scenario.pb.h"

namespace vscsim::runner {

struct Verdict {
  bool met = true;
  std::string detail;  // what was wrong, e.g. "expected ENODEV, got success"
};

// `op` is the step's operation (what "success" means depends on it);
// `digests` holds the digest of every earlier step by name (for data_of).
[[nodiscard]] Verdict judge(const scenario::Expect& expect, const agent::Op& op,
                            const agent::OpResult& result,
                            const std::map<std::string, std::string>& digests);

}  // namespace vscsim::runner

// The report for people at the end of a run: a table (scenario, seed,
// status, duration, checker), the totals, and for every iteration that did
// not pass its message and the command that replays it.
#pragma once

#include <string>

#include "vscsim/report.pb.h"

namespace vscsim::report {

std::string to_summary(const RunReport& report);

}  // namespace vscsim::report

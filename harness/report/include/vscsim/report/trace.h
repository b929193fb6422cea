// The report as a Chrome/Perfetto trace (JSON "traceEvents"; open it in
// ui.perfetto.dev or chrome://tracing). Each scenario iteration is a process;
// its lanes (threads) are "scenario" (the whole iteration), "host", each
// guest thread, then the simulator's channels and any other lane, in the
// order they first appear. Steps become spans ("X") on their actor's lane,
// trace events spans or instants ("i"); names come as metadata ("M").
// Timestamps are microseconds from the run's start.
#pragma once

#include <string>

#include "vscsim/report.pb.h"

namespace vscsim::report {

std::string to_chrome_trace(const RunReport& report);

}  // namespace vscsim::report

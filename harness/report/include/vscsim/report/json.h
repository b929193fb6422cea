// The report as JSON: protobuf's JSON mapping with the .proto field names
// (snake_case), every field present even when zero or empty (a stable shape
// for scripts), enums by name. As the mapping says, 64-bit integers (seeds)
// are JSON strings.
#pragma once

#include <string>
#include <string_view>

#include "vscsim/base/result.h"
#include "vscsim/report.pb.h"

namespace vscsim::report {

std::string to_json(const RunReport& report);

// Reads a report back (e.g. to merge shards or print a summary later);
// fields it does not know are ignored.
Result<RunReport, std::string> from_json(std::string_view json);

}  // namespace vscsim::report

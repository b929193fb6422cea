// The report as JUnit XML, for CI systems: one <testsuite> for the run, one
// <testcase> per scenario iteration (classname "scenarios.<name>", name as
// result_label()), a <failure> (type = the checker) or <error> or <skipped>
// by status, and the seed and console excerpt in <system-out>. Text is
// escaped for XML 1.0, which cannot carry most control characters even as
// references: those, and bytes that are not UTF-8, are written as "\xNN".
#pragma once

#include <string>
#include <string_view>

#include "vscsim/report.pb.h"

namespace vscsim::report {

std::string to_junit_xml(const RunReport& report);

// Escapes `text` for an XML attribute value (quote="true") or element text.
std::string xml_escape(std::string_view text, bool attribute);

}  // namespace vscsim::report

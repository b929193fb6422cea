#include "vscsim/report/junit.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>

#include "text.h"
#include "vscsim/report/run_report.h"

namespace vscsim::report {

namespace {

std::string hex_escape(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, digits == 2 ? "\\x%02X" : "\\u%04X", value);
  return buf;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

}  // namespace

std::string xml_escape(std::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t from = at;
    const auto cp = detail::next_code_point(text, at);
    if (!cp) {
      out += hex_escape(static_cast<unsigned char>(text[from]), 2);
      continue;
    }
    switch (*cp) {
      case U'&': out += "&amp;"; break;
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'"': out += attribute ? "&quot;" : "\""; break;
      case U'\'': out += attribute ? "&apos;" : "'"; break;
      // Attribute values are normalised by XML parsers (a raw newline becomes
      // a space) and a raw CR in text becomes a newline: references keep them.
      case U'\t': out += attribute ? "&#9;" : "\t"; break;
      case U'\n': out += attribute ? "&#10;" : "\n"; break;
      case U'\r': out += "&#13;"; break;
      default:
        // XML 1.0 allows no other C0 control, nor U+FFFE/U+FFFF, not even as
        // a character reference.
        if (*cp < 0x20) {
          out += hex_escape(*cp, 2);
        } else if (*cp == 0xfffe || *cp == 0xffff) {
          out += hex_escape(*cp, 4);
        } else {
          detail::append_utf8(out, *cp);
        }
    }
  }
  return out;
}

namespace {

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + xml_escape(value, true) + "\"";
}

std::string property(std::string_view name, std::string_view value) {
  return "      <property" + attr("name", name) + attr("value", value) + "/>\n";
}

std::string testcase(const RunReport& report, const ScenarioResult& r) {
  std::string out = "    <testcase" + attr("classname", "scenarios." + r.name()) + attr("name", result_label(r)) +
                    attr("time", seconds(r.duration_s())) + (r.path().empty() ? "" : attr("file", r.path())) + ">\n";
  const std::string checker = r.checker().empty() ? "unknown" : r.checker();
  switch (r.status()) {
    case ScenarioResult::PASS: break;
    case ScenarioResult::FAIL:
      out += "      <failure" + attr("message", r.message()) + attr("type", checker) + ">" +
             xml_escape(r.message() + "\nrerun: " + rerun_command(report, r), false) + "</failure>\n";
      break;
    case ScenarioResult::SKIPPED: out += "      <skipped" + attr("message", r.message()) + "/>\n"; break;
    default:
      out += "      <error" + attr("message", r.message()) + attr("type", r.checker().empty() ? "harness" : checker) +
             ">" + xml_escape(r.message() + "\nrerun: " + rerun_command(report, r), false) + "</error>\n";
      break;
  }
  std::string system_out = "seed " + std::to_string(r.seed()) + (r.seed_fixed() ? " (fixed by the scenario)" : "") +
                           ", round seed " + std::to_string(r.round_seed()) + "\n";
  if (!r.expected_checker().empty()) system_out += "negative control: must fail by " + r.expected_checker() + "\n";
  if (!r.console_excerpt().empty()) system_out += "console (last lines):\n" + r.console_excerpt() + "\n";
  out += "      <system-out>" + xml_escape(system_out, false) + "</system-out>\n";
  return out + "    </testcase>\n";
}

}  // namespace

std::string to_junit_xml(const RunReport& report) {
  const auto totals = count_totals(report);
  const std::string counts = attr("tests", std::to_string(totals.runs())) +
                             attr("failures", std::to_string(totals.failed())) +
                             attr("errors", std::to_string(totals.errors())) +
                             attr("skipped", std::to_string(totals.skipped())) +
                             attr("time", seconds(report.duration_s()));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites" + attr("name", "vsc-harness") + counts + ">\n";
  out += "  <testsuite" + attr("name", "vsc-harness seed " + std::to_string(report.run_seed())) + counts;
  if (report.has_start_time()) {
    // JUnit wants ISO 8601 without a zone; the report's times are UTC.
    auto stamp = google::protobuf::util::TimeUtil::ToString(report.start_time());
    if (!stamp.empty() && stamp.back() == 'Z') stamp.pop_back();
    out += attr("timestamp", stamp);
  }
  if (!report.host().hostname().empty()) out += attr("hostname", report.host().hostname());
  out += ">\n    <properties>\n";
  out += property("run_seed", std::to_string(report.run_seed()));
  if (!report.command_line().empty()) out += property("command_line", report.command_line());
  if (!report.kernel().release().empty()) out += property("guest_kernel", report.kernel().release());
  if (!report.host().accel().empty()) out += property("accel", report.host().accel());
  out += property("shard", std::to_string(report.options().shard_index()) + "/" +
                               std::to_string(std::max(1u, report.options().shard_count())));
  out += property("repeat", std::to_string(std::max(1u, report.options().repeat())));
  out += "    </properties>\n";
  for (const auto& r : report.result()) out += testcase(report, r);
  return out + "  </testsuite>\n</testsuites>\n";
}

}  // namespace vscsim::report

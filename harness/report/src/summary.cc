#include "vscsim/report/summary.h"

#include <algorithm>
#include <array>
#include <vector>

#include "text.h"
#include "vscsim/report/run_report.h"

namespace vscsim::report {

namespace {

std::string plural(std::uint32_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string checker_cell(const ScenarioResult& r) {
  if (r.status() == ScenarioResult::PASS && !r.expected_checker().empty()) {
    return r.expected_checker() + " (expected)";
  }
  return r.status() == ScenarioResult::PASS ? "" : r.checker();
}

using Row = std::array<std::string, 5>;

// Left-aligned columns (durations right-aligned), two spaces apart; the last
// column is not padded.
std::string table(const std::vector<Row>& rows) {
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], detail::code_points(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - detail::code_points(row[c]), ' ');
      const bool last = c + 1 == row.size();
      line += c == 3 ? pad + row[c] : row[c] + (last ? "" : pad);
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string to_summary(const RunReport& report) {
  std::vector<Row> rows = {{"scenario", "seed", "status", "duration", "checker"}};
  for (const auto& r : report.result()) {
    rows.push_back({result_label(r), std::to_string(r.seed()), std::string(status_name(r.status())),
                    detail::seconds_text(r.duration_s()), checker_cell(r)});
  }
  std::string out = table(rows);
  const auto t = count_totals(report);
  out += "\n" + plural(t.runs(), "run", "runs") + ": " + std::to_string(t.passed()) + " passed, " +
         std::to_string(t.failed()) + " failed, " + plural(t.errors(), "error", "errors") + ", " +
         std::to_string(t.skipped()) + " skipped in " + detail::seconds_text(report.duration_s()) + " (run seed " +
         std::to_string(report.run_seed()) + ")\n";
  bool first = true;
  for (const auto& r : report.result()) {
    if (r.status() == ScenarioResult::PASS || r.status() == ScenarioResult::SKIPPED) continue;
    if (first) out += "\nnot passed:\n";
    first = false;
    out += "  " + result_label(r) + " " + std::string(status_name(r.status())) +
           (r.checker().empty() ? "" : " (" + r.checker() + ")") + ": " + r.message() + "\n";
    out += "    rerun: " + rerun_command(report, r) + "\n";
  }
  return out;
}

}  // namespace vscsim::report

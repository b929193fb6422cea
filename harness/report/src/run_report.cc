#include "vscsim/report/run_report.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "text.h"

namespace vscsim::report {

Totals count_totals(const RunReport& report) {
  Totals totals;
  for (const auto& r : report.result()) {
    totals.set_runs(totals.runs() + 1);
    switch (r.status()) {
      case ScenarioResult::PASS: totals.set_passed(totals.passed() + 1); break;
      case ScenarioResult::FAIL: totals.set_failed(totals.failed() + 1); break;
      case ScenarioResult::SKIPPED: totals.set_skipped(totals.skipped() + 1); break;
      // A result without a status was never finished: the harness's fault.
      default: totals.set_errors(totals.errors() + 1); break;
    }
  }
  return totals;
}

std::string result_label(const ScenarioResult& result) {
  return result.iteration() == 0 ? result.name() : result.name() + "#" + std::to_string(result.iteration());
}

std::string_view status_name(ScenarioResult::Status status) {
  switch (status) {
    case ScenarioResult::PASS: return "PASS";
    case ScenarioResult::FAIL: return "FAIL";
    case ScenarioResult::SKIPPED: return "SKIPPED";
    default: return "ERROR";
  }
}

namespace {

// Single quotes unless every character is plainly safe in a shell word.
std::string shell_word(std::string_view word) {
  const bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_-./=:,+@%") == std::string_view::npos;
  if (plain) return std::string(word);
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string rerun_command(const RunReport& report, const ScenarioResult& result) {
  std::string command = "vsc-harness run --filter " + shell_word(result.name()) + " --seed " +
                        std::to_string(result.round_seed());
  if (!report.options().kernel().empty()) command += " --kernel " + shell_word(report.options().kernel());
  return command;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const auto cp = detail::next_code_point(text, at);
    detail::append_utf8(out, cp.value_or(U'\uFFFD'));
  }
  return out;
}

std::string console_excerpt(std::string_view console, std::size_t max_lines, std::size_t max_bytes) {
  std::string text;
  text.reserve(console.size());
  for (const char c : console) {
    if (c != '\r') text += c;
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  // Walk back over `max_lines` lines: each step finds the newline that ends
  // the line before.
  std::size_t start = text.size();
  for (std::size_t lines = 0; start > 0 && lines < max_lines;) {
    const auto nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    start = ++lines == max_lines ? nl + 1 : nl;
  }
  if (text.size() - start > max_bytes) {
    start = text.size() - max_bytes;
    // Begin at a line start when one is near, rather than mid-line.
    const auto nl = text[start - 1] == '\n' ? start - 1 : text.find('\n', start);
    if (nl != std::string::npos && nl + 1 < text.size()) start = nl + 1;
  }
  return valid_utf8(std::string_view(text).substr(start));
}

Result<void, std::string> write_text_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return Err("cannot write " + path.string() + ": " + std::strerror(errno));
  return Ok<std::string>();
}

}  // namespace vscsim::report

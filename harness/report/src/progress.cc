#include "vscsim/report/progress.h"

#include <unistd.h>


#include "text.h"
#include "vscsim/report/run_report.h"

namespace vscsim::report {

namespace {

constexpr std::string_view kClearLine = "\r\033[K";  // to column 0, erase to the end

double since(ProgressLine::Clock::time_point from, ProgressLine::Clock::time_point now) {
  return std::chrono::duration<double>(now - from).count();
}

}  // namespace

ProgressLine::Mode ProgressLine::mode_for(int fd) { return isatty(fd) ? Mode::kRewrite : Mode::kLines; }

ProgressLine::ProgressLine(std::ostream& out, Mode mode, std::size_t total, std::size_t width)
    : out_(out), mode_(mode), total_(total), width_(width) {}

std::string ProgressLine::counts() const {
  std::string out = "[" + std::to_string(finished_) + "/" + std::to_string(total_) + "] " +
                    std::to_string(passed_) + " passed";
  if (failed_) out += " " + std::to_string(failed_) + " failed";
  if (errors_) out += " " + std::to_string(errors_) + (errors_ == 1 ? " error" : " errors");
  if (skipped_) out += " " + std::to_string(skipped_) + " skipped";
  return out;
}

void ProgressLine::draw(Clock::time_point now) {
  std::string line = counts();
  if (!running_.empty()) line += " \u00b7 running " + running_ + " (" + detail::seconds_text(since(running_since_, now)) + ")";
  out_ << kClearLine << detail::cut_to(line, width_ ? width_ - 1 : line.size()) << std::flush;
  line_open_ = true;
}

void ProgressLine::started(std::string_view label, Clock::time_point now) {
  running_ = label;
  running_since_ = now;
  if (mode_ == Mode::kRewrite) draw(now);
}

void ProgressLine::finished(const ScenarioResult& result, Clock::time_point now) {
  ++finished_;
  switch (result.status()) {
    case ScenarioResult::PASS: ++passed_; break;
    case ScenarioResult::FAIL: ++failed_; break;
    case ScenarioResult::SKIPPED: ++skipped_; break;
    default: ++errors_; break;
  }
  running_.clear();
  std::string verdict = std::string(status_name(result.status())) + " " + result_label(result) + " seed " +
                        std::to_string(result.seed()) + " " + detail::seconds_text(result.duration_s());
  if (result.status() != ScenarioResult::PASS && !result.checker().empty()) verdict += " " + result.checker();
  if (result.status() != ScenarioResult::PASS && !result.message().empty()) verdict += ": " + result.message();
  if (mode_ == Mode::kLines) {
    out_ << "[" << finished_ << "/" << total_ << "] " << verdict << "\n" << std::flush;
    return;
  }
  // Keep what did not pass on the screen, above the line that is redrawn.
  if (result.status() != ScenarioResult::PASS) out_ << kClearLine << verdict << "\n";
  draw(now);
}

void ProgressLine::tick(Clock::time_point now) {
  if (mode_ == Mode::kRewrite) draw(now);
}

void ProgressLine::done() {
  if (mode_ == Mode::kRewrite && line_open_) out_ << "\n" << std::flush;
  line_open_ = false;
}

}  // namespace vscsim::report

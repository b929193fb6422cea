// The live progress of a run. On a terminal one line is rewritten in place:
//
//   [3/12] 2 passed 1 failed · running rescind_with_open_file (4.2 s)
//
// and every iteration that does not pass also leaves a line of its own above
// it. Elsewhere (CI logs, pipes) each finished iteration prints one line.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include "vscsim/report.pb.h"

namespace vscsim::report {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Mode {
    kRewrite,  // a terminal: one line, redrawn
    kLines,    // anything else: a line per finished iteration
  };

  // kRewrite when `fd` is a terminal, else kLines.
  static Mode mode_for(int fd);

  // `total`: the iterations the run will do. `width`: the terminal's columns;
  // a longer line is cut (a wrapped line could no longer be rewritten).
  ProgressLine(std::ostream& out, Mode mode, std::size_t total, std::size_t width = 100);

  void started(std::string_view label, Clock::time_point now);
  void finished(const ScenarioResult& result, Clock::time_point now);
  // Redraws the running time (kRewrite); nothing in kLines mode.
  void tick(Clock::time_point now);
  // Ends the rewritten line so that later output starts on a line of its own.
  void done();

 private:
  std::string counts() const;
  void draw(Clock::time_point now);

  std::ostream& out_;
  Mode mode_;
  std::size_t total_;
  std::size_t width_;
  std::size_t finished_ = 0, passed_ = 0, failed_ = 0, errors_ = 0, skipped_ = 0;
  std::string running_;
  Clock::time_point running_since_{};
  bool line_open_ = false;
};

}  // namespace vscsim::report

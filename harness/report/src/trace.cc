#include "vscsim/report/trace.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "vscsim/report/run_report.h"

namespace vscsim::report {

namespace {

using nlohmann::json;

constexpr std::string_view kScenarioLane = "scenario";
constexpr std::string_view kHostLane = "host";
constexpr std::string_view kChannelPrefix = "channel:";

// Microseconds, kept to nanoseconds so that a short step still has a width.
double micros(double seconds) { return std::round(seconds * 1e9) / 1e3; }

// The lanes of one iteration, numbered in the order the header describes.
class Lanes {
 public:
  explicit Lanes(const ScenarioResult& r) {
    add(kScenarioLane);
    add(kHostLane);
    std::vector<std::string> channels, others;
    for (const auto& step : r.step()) {
      if (step.actor() != kHostLane) add(step.actor());
    }
    for (const auto& event : r.event()) {
      if (known(event.lane())) continue;
      auto& group = event.lane().starts_with(kChannelPrefix) ? channels : others;
      if (std::find(group.begin(), group.end(), event.lane()) == group.end()) group.push_back(event.lane());
    }
    for (const auto& lane : channels) add(lane);
    for (const auto& lane : others) add(lane);
  }

  int tid(const std::string& lane) const { return ids_.at(lane); }
  const std::vector<std::string>& order() const { return order_; }

 private:
  bool known(const std::string& lane) const { return ids_.contains(lane); }
  void add(std::string_view lane) {
    if (known(std::string(lane))) return;
    ids_.emplace(lane, static_cast<int>(order_.size()));
    order_.emplace_back(lane);
  }

  std::map<std::string, int> ids_;
  std::vector<std::string> order_;
};

json metadata(std::string_view what, int pid, int tid, json args) {
  return {{"ph", "M"}, {"name", what}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

void add_iteration(json& events, const ScenarioResult& r, int pid) {
  const Lanes lanes(r);
  const double base = r.start_s();
  events.push_back(metadata("process_name", pid, 0,
                            {{"name", result_label(r) + " seed " + std::to_string(r.seed()) + " " +
                                          std::string(status_name(r.status()))}}));
  events.push_back(metadata("process_sort_index", pid, 0, {{"sort_index", pid}}));
  for (const auto& lane : lanes.order()) {
    const int tid = lanes.tid(lane);
    events.push_back(metadata("thread_name", pid, tid, {{"name", lane}}));
    events.push_back(metadata("thread_sort_index", pid, tid, {{"sort_index", tid}}));
  }
  json verdict = {{"status", status_name(r.status())}, {"seed", std::to_string(r.seed())}};
  if (!r.checker().empty()) verdict["checker"] = r.checker();
  if (!r.message().empty()) verdict["message"] = r.message();
  events.push_back({{"ph", "X"}, {"name", result_label(r)}, {"cat", "scenario"}, {"pid", pid},
                    {"tid", lanes.tid(std::string(kScenarioLane))}, {"ts", micros(base)},
                    {"dur", micros(r.duration_s())}, {"args", std::move(verdict)}});
  for (const auto& step : r.step()) {
    if (step.verdict() == StepResult::NOT_RUN) continue;
    json args = {{"kind", step.kind()}, {"verdict", StepResult::Verdict_Name(step.verdict())}};
    if (!step.process().empty()) args["process"] = step.process();
    if (!step.errno_name().empty()) args["errno"] = step.errno_name();
    if (!step.detail().empty()) args["detail"] = step.detail();
    events.push_back({{"ph", "X"}, {"name", step.name()}, {"cat", "step"}, {"pid", pid},
                      {"tid", lanes.tid(step.actor())}, {"ts", micros(base + step.start_s())},
                      {"dur", micros(std::max(0.0, step.end_s() - step.start_s()))}, {"args", std::move(args)}});
  }
  for (const auto& event : r.event()) {
    json args = json::object();
    for (const auto& [key, value] : event.args()) args[key] = value;
    json e = {{"name", event.name()}, {"cat", event.category().empty() ? "event" : event.category()},
              {"pid", pid}, {"tid", lanes.tid(event.lane())}, {"ts", micros(base + event.start_s())},
              {"args", std::move(args)}};
    if (event.instant()) {
      e["ph"] = "i";
      e["s"] = "t";  // an instant on its lane, not across the process
    } else {
      e["ph"] = "X";
      e["dur"] = micros(std::max(0.0, event.duration_s()));
    }
    events.push_back(std::move(e));
  }
}

}  // namespace

std::string to_chrome_trace(const RunReport& report) {
  json events = json::array();
  for (int i = 0; i < report.result_size(); ++i) add_iteration(events, report.result(i), i + 1);
  const json trace = {{"traceEvents", std::move(events)},
                      {"displayTimeUnit", "ms"},
                      {"otherData", {{"run_seed", std::to_string(report.run_seed())}}}};
  // Strings in the report are valid UTF-8 (protobuf string fields); replace
  // rather than throw should one not be.
  return trace.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace vscsim::report

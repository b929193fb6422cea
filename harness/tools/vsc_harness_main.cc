// vsc-harness: runs scenarios against the real driver in a real guest with
// vsp-sim as its host, and says whether the driver survived.
//
//   vsc-harness run   [selection] [--json F] [--junit F] [--trace F] ...
//   vsc-harness plan  [selection]     print what `run` would do, run nothing
//
// Exit status: 0 every iteration passed (negative controls caught as
// designed), 1 an iteration failed or could not run, 2 bad usage or bad
// scenario files, 128+N stopped by signal N.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"
#include "vscsim/launcher/stop_signal.h"
#include "vscsim/report/json.h"
#include "vscsim/report/junit.h"
#include "vscsim/report/progress.h"
#include "vscsim/report/run_report.h"
#include "vscsim/report/summary.h"
#include "vscsim/report/trace.h"
#include "vscsim/scenario/load.h"
#include "vscsim/scenario/plan.h"
#include "vscsim/session/suite_run.h"

namespace {

using namespace vscsim;
namespace fs = std::filesystem;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Selection {
  std::vector<std::string> suite;
  std::vector<std::string> filters;
  std::string shard = "0/1";
  std::uint32_t repeat = 1;
  std::string seed;
};

void add_selection(CLI::App& cmd, Selection& s) {
  cmd.add_option("--suite", s.suite,
                 fmt::format("Scenario folder or .textproto file (repeatable; default {})", build_config::kScenarioDir));
  cmd.add_option("--filter", s.filters, "Run only scenarios whose name matches this glob, or tag:<tag> (repeatable, OR)");
  cmd.add_option("--shard", s.shard, "I/N: run the I-th (from 0) of N disjoint shards of the selection");
  cmd.add_option("--repeat", s.repeat, "Iterations of each scenario (round by round)")->check(CLI::Range(1u, 1000000u));
  cmd.add_option("--seed", s.seed, "Run seed (decimal or 0x hex); default: drawn and printed");
}

// The plan, or an exit code after printing why not.
std::variant<scenario::Plan, int> make_plan(const Selection& s) {
  std::vector<fs::path> sources;
  for (const auto& p : s.suite) sources.emplace_back(p);
  if (sources.empty()) sources.emplace_back(build_config::kScenarioDir);
  auto suite = scenario::load_suite(sources);
  if (!suite.ok()) {
    std::cerr << suite.error().str() << "vsc-harness: the scenario files above are malformed; nothing was run\n";
    return kExitUsage;
  }
  scenario::Selection sel;
  sel.filters = s.filters;
  sel.repeat = s.repeat;
  for (const auto& f : s.filters) {
    if (auto r = scenario::check_filter(f); !r.ok()) {
      std::cerr << "vsc-harness: --filter " << f << ": " << r.error() << "\n";
      return kExitUsage;
    }
  }
  auto shard = scenario::parse_shard(s.shard);
  if (!shard.ok()) {
    std::cerr << "vsc-harness: --shard " << s.shard << ": " << shard.error() << "\n";
    return kExitUsage;
  }
  sel.shard = *shard;
  std::uint64_t seed = 0;
  bool drawn = false;
  if (s.seed.empty()) {
    seed = scenario::draw_run_seed();
    drawn = true;
  } else {
    auto parsed = scenario::parse_seed(s.seed);
    if (!parsed.ok()) {
      std::cerr << "vsc-harness: --seed " << s.seed << ": " << parsed.error() << "\n";
      return kExitUsage;
    }
    seed = *parsed;
  }
  auto plan = scenario::make_plan(*suite, sel, seed, drawn);
  if (!plan.ok()) {
    std::cerr << "vsc-harness: " << plan.error() << "\n";
    return kExitUsage;
  }
  return std::move(plan).value();
}

std::string os_name() {
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "unknown";
}

report::HostInfo host_info(launcher::Accel accel) {
  report::HostInfo h;
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  h.set_hostname(name);
  h.set_os(os_name());
  utsname u{};
  if (::uname(&u) == 0) h.set_kernel_release(u.release);
  h.set_cpus(std::thread::hardware_concurrency());
  h.set_accel(std::string(launcher::to_string(accel)));
  h.set_vscsim_version(VSCSIM_VERSION);
  return h;
}

bool write_or_say(const std::string& path, const std::string& text, const char* what) {
  if (path.empty()) return true;
  if (auto r = report::write_text_file(path, text); !r.ok()) {
    std::cerr << "vsc-harness: cannot write the " << what << ": " << r.error() << "\n";
    return false;
  }
  std::cerr << "vsc-harness: " << what << ": " << path << "\n";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run scenarios against the real VSC driver in a QEMU guest, with vsp-sim as its host."};
  app.require_subcommand(1);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  Selection plan_sel;
  auto* plan_cmd = app.add_subcommand("plan", "Print the plan (scenarios, seeds, devices, faults); run nothing");
  add_selection(*plan_cmd, plan_sel);

  Selection sel;
  std::string json_path, junit_path, trace_path, kernel = "stock", accel_text = "auto";
  bool keep_going = false, keep_run_dirs = false, trace_all = false;
  double boot_timeout_s = 120;
  auto* run_cmd = app.add_subcommand("run", "Run the selected scenarios in a real guest");
  add_selection(*run_cmd, sel);
  run_cmd->add_option("--json", json_path, "Write the run report as JSON");
  run_cmd->add_option("--junit", junit_path, "Write the run report as JUnit XML");
  run_cmd->add_option("--trace", trace_path,
                      "Write a Chrome/Perfetto trace of the run (steps, and the packet trace of every iteration "
                      "that did not pass); default with --json: <json>.trace.json when one did not pass");
  run_cmd->add_flag("--trace-all", trace_all, "Keep the packet trace of every iteration, not only failing ones");
  run_cmd->add_option("--kernel", kernel, "Guest kernel: stock (the pinned Debian cloud kernel) or an image path");
  run_cmd->add_option("--accel", accel_text, "auto (KVM if a probe boot works, else TCG), tcg or kvm")
      ->check(CLI::IsMember({"auto", "tcg", "kvm"}));
  run_cmd->add_flag("--keep-going", keep_going, "Run every iteration even after one did not pass");
  run_cmd->add_flag("--keep-run-dirs", keep_run_dirs, "Keep every guest run folder (failed ones are always kept)");
  run_cmd->add_option("--boot-timeout", boot_timeout_s, "Seconds a boot may take")->check(CLI::Range(5.0, 3600.0));
  CLI11_PARSE(app, argc, argv);

  if (plan_cmd->parsed()) {
    auto plan = make_plan(plan_sel);
    if (auto* code = std::get_if<int>(&plan)) return *code;
    std::cout << scenario::describe_plan(std::get<scenario::Plan>(plan));
    return 0;
  }

  launcher::install_stop_handlers();
  auto planned = make_plan(sel);
  if (auto* code = std::get_if<int>(&planned)) return *code;
  const auto& plan = std::get<scenario::Plan>(planned);
  // The whole plan, seeds and faults included, before anything runs.
  std::cout << scenario::describe_plan(plan) << std::flush;

  session::SuiteConfig config;
  config.session.vsp_sim_binary = build_config::kVspSimBinary;
  config.session.initrd = build_config::kStockInitramfs;
  if (kernel == "stock") {
    config.session.kernel = build_config::kStockKernel;
  } else if (kernel == "debug") {
    std::cerr << "vsc-harness: --kernel debug: the debug kernel (KASAN, lockdep) is not built by this project yet "
                 "(issue 8); use stock or an image path\n";
    return kExitUsage;
  } else {
    config.session.kernel = kernel;
    if (!fs::is_regular_file(config.session.kernel)) {
      std::cerr << "vsc-harness: --kernel " << kernel << ": no such file (stock, or a kernel image path)\n";
      return kExitUsage;
    }
  }
  config.session.keep_run_dirs = keep_run_dirs;
  config.session.boot_timeout = std::chrono::milliseconds(static_cast<long>(boot_timeout_s * 1000));
  config.keep_going = keep_going;
  config.iteration.trace_every_iteration = trace_all;
  for (const auto* binary : {build_config::kVspSimBinary, build_config::kStockInitramfs}) {
    if (!fs::exists(binary)) {
      std::cerr << "vsc-harness: " << binary << " is missing: build the project first (cmake --build build)\n";
      return kExitUsage;
    }
  }
  try {
    launcher::LaunchOptions probe;
    probe.kernel = config.session.kernel;
    probe.initrd = config.session.initrd;
    probe.kernel_args = {"vscsim.then=poweroff"};
    const auto choice = launcher::choose_accel(*launcher::parse_accel(accel_text), probe, build_config::kCacheDir);
    config.session.accel = choice.accel;
    std::cerr << "vsc-harness: accelerator " << launcher::to_string(choice.accel) << " (" << choice.reason << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "vsc-harness: choosing the accelerator: " << e.what() << "\n";
    return kExitUsage;
  }

  report::RunReport rep;
  rep.set_run_seed(plan.run_seed);
  rep.set_run_seed_drawn(plan.run_seed_drawn);
  rep.mutable_start_time()->set_seconds(std::time(nullptr));
  rep.set_command_line(command_line);
  *rep.mutable_host() = host_info(config.session.accel);
  auto& o = *rep.mutable_options();
  for (const auto& f : sel.filters) o.add_filter(f);
  o.set_shard_index(plan.selection.shard.index);
  o.set_shard_count(plan.selection.shard.count);
  o.set_repeat(plan.selection.repeat);
  o.set_keep_going(keep_going);
  o.set_kernel(kernel == "stock" ? "" : kernel);
  o.set_suite(sel.suite.empty() ? build_config::kScenarioDir : fmt::format("{}", fmt::join(sel.suite, ",")));
  o.set_json_path(json_path);
  o.set_junit_path(junit_path);

  report::ProgressLine progress(std::cerr, report::ProgressLine::mode_for(STDERR_FILENO), plan.runs.size());
  session::run_plan(plan, config, progress, rep);

  std::cout << report::to_summary(rep) << std::flush;
  const auto& t = rep.totals();
  const bool all_passed = t.passed() == t.runs();
  if (trace_path.empty() && !json_path.empty() && !all_passed) {
    trace_path = (fs::path(json_path).parent_path() / fs::path(json_path).stem()).string() + ".trace.json";
  }
  bool written = write_or_say(json_path, report::to_json(rep), "JSON report");
  written = write_or_say(junit_path, report::to_junit_xml(rep), "JUnit report") && written;
  written = write_or_say(trace_path, report::to_chrome_trace(rep), "Chrome/Perfetto trace") && written;
  if (launcher::stop_requested()) return 128 + launcher::stop_signal_number();
  return all_passed && written && t.runs() > 0 ? 0 : kExitFailed;
}

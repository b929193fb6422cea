// vsc-harness: runs scenarios against the real driver in a real guest with
// vsp-sim as its host, and says whether the driver survived.
//
//   vsc-harness run   [selection] [--json F] [--junit F] [--trace F] ...
//   vsc-harness plan  [selection]     print what `run` would do, run nothing
//   vsc-harness mutants [--filter GLOB] [--scenario-filter F] [--json F] ...
//                     the static checks and the suite against the driver,
//                     then against each of az_blob's mutants
//                     (harness/mutants/README.md)
//   vsc-harness race-bench [--scenario-filter F] [--budget S] [--json F] ...
//                     each gated race against its mutants: with the gate,
//                     then as random stress without it, for a time budget
//
// Exit status: 0 every iteration passed (negative controls caught as
// designed), 1 an iteration failed or could not run, 2 bad usage or bad
// scenario files, 128+N stopped by signal N. `mutants`: 0 when the baseline
// passed and every mutant not marked debug-kernel was caught, else 1.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "guest_kernel.h"
#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"
#include "vscsim/launcher/stop_signal.h"
#include "vscsim/mutants/campaign.h"
#include "vscsim/mutants/race_bench.h"
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
std::variant<scenario::Plan, int> make_plan(const Selection& s, bool debug_kernel = false) {
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
  sel.debug_kernel = debug_kernel;
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

// --module name=path (repeatable) into SessionConfig::module_override.
bool parse_module_overrides(const std::vector<std::string>& specs, session::SessionConfig& config) {
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      std::cerr << "vsc-harness: --module " << spec << ": expected <module>=<path of its .ko>\n";
      return false;
    }
    const std::string name = spec.substr(0, eq);
    const fs::path path = spec.substr(eq + 1);
    if (name == session::kTransportModule) {
      std::cerr << "vsc-harness: --module " << spec << ": the transport is loaded by init, not overridable\n";
      return false;
    }
    if (!fs::is_regular_file(path)) {
      std::cerr << "vsc-harness: --module " << spec << ": no such file\n";
      return false;
    }
    config.module_override[name] = fs::absolute(path);
  }
  return true;
}

// Where mutants of az_blob are built from and to (mutants and race-bench),
// against the kernel the run boots; the debug kernel's get their own folder.
mutants::BuildPaths mutant_build_paths(const tools::GuestKernel& kernel) {
  mutants::BuildPaths b;
  b.source_dir = build_config::kAzBlobSourceDir;
  b.kernel_build_dir = kernel.module_build_dir;
  b.extra_symbols = kernel.vmbus_symvers;
  b.include_dirs = {build_config::kRaceGateIncludeDir};
  b.out_root = kernel.modules_of == "stock" ? fs::path(build_config::kMutantBuildDir)
                                             : fs::path(build_config::kMutantBuildDir) / (kernel.modules_of + "-kernel");
  return b;
}

// The mutants of vsc/az_blob/mutants/ matching `filters`, or an exit code
// after saying why not (malformed headers; none matching, unless allowed).
std::variant<std::vector<mutants::Mutant>, int> load_selected_mutants(const std::vector<std::string>& filters,
                                                                     bool none_is_an_error) {
  auto found = mutants::load_mutants(build_config::kMutantDir, filters);
  if (!found.ok()) {
    std::cerr << found.error() << "vsc-harness: the mutant files above are malformed; nothing was run\n";
    return kExitUsage;
  }
  if (none_is_an_error && found->empty()) {
    std::cerr << "vsc-harness: no mutant in " << build_config::kMutantDir << " matches the filter\n";
    return kExitUsage;
  }
  return std::move(found).value();
}

// What run and mutants share: the guest options.
struct GuestOptions {
  std::string kernel = "stock";
  std::string accel = "auto";
  std::string backend = "qemu";
  bool keep_run_dirs = false;
  double boot_timeout_s = 120;
};

void add_guest_options(CLI::App& cmd, GuestOptions& g) {
  cmd.add_option("--kernel", g.kernel,
                 "Guest kernel: stock (the pinned Debian cloud kernel), debug (KASAN, lockdep, fault injection; "
                 "built by `cmake --build build --target debug_guest`), fast (trimmed for boot time; target "
                 "fast_guest) or an image path");
  cmd.add_option("--accel", g.accel, "auto (KVM if a probe boot works, else TCG), tcg or kvm")
      ->check(CLI::IsMember({"auto", "tcg", "kvm"}));
  cmd.add_option("--backend", g.backend,
                 "qemu (vsc-harness starts QEMU itself) or libvirt (each guest is a transient libvirt domain on "
                 "qemu:///system, started through libvirt's API; libvirtd is started if it is not running; the "
                 "domain XML is in the run folder: --keep-run-dirs keeps it)")
      ->check(CLI::IsMember({"qemu", "libvirt"}));
  cmd.add_flag("--keep-run-dirs", g.keep_run_dirs, "Keep every guest run folder (failed ones are always kept)");
  cmd.add_option("--boot-timeout", g.boot_timeout_s, "Seconds a boot may take")->check(CLI::Range(5.0, 3600.0));
}

// The session's configuration from the guest options, and the kernel it
// resolved (mutants build against its tree); or an exit code.
struct GuestRun {
  session::SuiteConfig suite;
  tools::GuestKernel kernel;
};
std::variant<GuestRun, int> suite_config(const GuestOptions& g) {
  session::SuiteConfig config;
  config.session.vsp_sim_binary = build_config::kVspSimBinary;
  auto kernel = tools::resolve_guest_kernel(g.kernel);
  if (!kernel.ok()) {
    std::cerr << "vsc-harness: --kernel " << g.kernel << ": " << kernel.error() << "\n";
    return kExitUsage;
  }
  config.session.kernel = kernel->kernel;
  config.session.initrd = kernel->initrd;
  config.session.kernel_args = kernel->kernel_args;
  config.session.firmware = kernel->firmware;
  config.session.keep_run_dirs = g.keep_run_dirs;
  config.session.backend = *launcher::parse_backend(g.backend);
  config.session.boot_timeout = std::chrono::milliseconds(static_cast<long>(g.boot_timeout_s * 1000));
  if (!fs::exists(build_config::kVspSimBinary)) {
    std::cerr << "vsc-harness: " << build_config::kVspSimBinary << " is missing: build the project first (cmake --build build)\n";
    return kExitUsage;
  }
  try {
    launcher::LaunchOptions probe;
    probe.kernel = config.session.kernel;
    probe.initrd = config.session.initrd;
    probe.firmware = config.session.firmware;
    probe.kernel_args = kernel->kernel_args;
    probe.kernel_args.push_back("vscsim.then=poweroff");
    const auto choice = launcher::choose_accel(*launcher::parse_accel(g.accel), probe, build_config::kCacheDir);
    config.session.accel = choice.accel;
    std::cerr << "vsc-harness: accelerator " << launcher::to_string(choice.accel) << " (" << choice.reason << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "vsc-harness: choosing the accelerator: " << e.what() << "\n";
    return kExitUsage;
  }
  return GuestRun{std::move(config), std::move(kernel).value()};
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
  GuestOptions guest;
  std::vector<std::string> module_specs;
  std::string json_path, junit_path, trace_path;
  bool keep_going = false, trace_all = false;
  auto* run_cmd = app.add_subcommand("run", "Run the selected scenarios in a real guest");
  add_selection(*run_cmd, sel);
  run_cmd->add_option("--json", json_path, "Write the run report as JSON");
  run_cmd->add_option("--junit", junit_path, "Write the run report as JUnit XML");
  run_cmd->add_option("--trace", trace_path,
                      "Write a Chrome/Perfetto trace of the run (steps, and the packet trace of every iteration "
                      "that did not pass); default with --json: <json>.trace.json when one did not pass");
  run_cmd->add_flag("--trace-all", trace_all, "Keep the packet trace of every iteration, not only failing ones");
  add_guest_options(*run_cmd, guest);
  run_cmd->add_flag("--keep-going", keep_going, "Run every iteration even after one did not pass");
  run_cmd->add_option("--module", module_specs,
                      "<module>=<path>: load this driver module from a host .ko instead of the initramfs's "
                      "/lib/vscsim (repeatable), e.g. az_blob=build/mutants/15-x/src/az_blob.ko");

  Selection mut_sel;
  GuestOptions mut_guest;
  std::vector<std::string> mutant_filters;
  std::string mut_json;
  auto* mut_cmd = app.add_subcommand(
      "mutants", "Run the suite against az_blob, then against each mutant of vsc/az_blob/mutants; print the score");
  mut_cmd->add_option("--filter", mutant_filters, "Only mutants whose name (file stem) matches this glob (repeatable)");
  mut_cmd->add_option("--suite", mut_sel.suite,
                      fmt::format("Scenario folder or .textproto file (repeatable; default {})", build_config::kScenarioDir));
  mut_cmd->add_option("--scenario-filter", mut_sel.filters, "Scenarios to run: glob or tag:<tag> (repeatable, OR)");
  mut_cmd->add_option("--seed", mut_sel.seed, "Run seed (decimal or 0x hex); default: drawn and printed");
  mut_cmd->add_option("--json", mut_json, "Write the outcomes and the score as JSON");
  add_guest_options(*mut_cmd, mut_guest);

  Selection race_sel;
  GuestOptions race_guest;
  std::vector<std::string> race_mutant_filters;
  std::string race_json;
  unsigned gated_runs = 3;
  double ungated_budget_s = 60;
  auto* race_cmd = app.add_subcommand(
      "race-bench", "For each race scenario and each mutant of its catalogue item: runs with the race gate, then "
                    "random stress without it for a time budget (harness/mutants/README.md)");
  race_cmd->add_option("--filter", race_mutant_filters, "Only mutants whose name matches this glob (repeatable)");
  race_cmd->add_option("--suite", race_sel.suite,
                       fmt::format("Scenario folder or .textproto file (repeatable; default {})",
                                   build_config::kScenarioDir));
  race_cmd->add_option("--scenario-filter", race_sel.filters,
                       "Race scenarios to use: glob or tag:<tag> (repeatable, OR); only those tagged race count");
  race_cmd->add_option("--seed", race_sel.seed, "Run seed (decimal or 0x hex); default: drawn and printed");
  race_cmd->add_option("--gated-runs", gated_runs, "Runs of each race with its gate")->check(CLI::Range(1u, 100u));
  race_cmd->add_option("--budget", ungated_budget_s, "Seconds of random stress per race without its gate")
      ->check(CLI::Range(1.0, 86400.0));
  race_cmd->add_option("--json", race_json, "Write the measurements as JSON");
  add_guest_options(*race_cmd, race_guest);
  CLI11_PARSE(app, argc, argv);

  if (plan_cmd->parsed()) {
    auto plan = make_plan(plan_sel);
    if (auto* code = std::get_if<int>(&plan)) return *code;
    std::cout << scenario::describe_plan(std::get<scenario::Plan>(plan));
    return 0;
  }

  if (mut_cmd->parsed()) {
    launcher::install_stop_handlers();
    auto found = load_selected_mutants(mutant_filters, true);
    if (auto* code = std::get_if<int>(&found)) return *code;
    const bool debug = mut_guest.kernel == "debug";
    auto planned = make_plan(mut_sel, debug);
    if (auto* code = std::get_if<int>(&planned)) return *code;
    auto config = suite_config(mut_guest);
    if (auto* code = std::get_if<int>(&config)) return *code;
    mutants::CampaignOptions o;
    o.plan = std::get<scenario::Plan>(std::move(planned));
    std::cout << scenario::describe_plan(o.plan) << std::flush;
    auto& guest_run = std::get<GuestRun>(config);
    o.suite = std::move(guest_run.suite);
    o.build = mutant_build_paths(guest_run.kernel);
    o.debug_kernel = debug;
    const auto args = [](const auto& command) { return std::vector<std::string>(command.begin(), command.end()); };
    o.static_checks.uapi_c99 = args(build_config::kAzBlobUapiC99Command);
    o.static_checks.uapi_cxx20 = args(build_config::kAzBlobUapiCxx20Command);
    o.static_checks.sparse = args(build_config::kAzBlobSparseCommand);
    o.static_checks.source_dir = build_config::kAzBlobSourceDir;
    o.static_checks.sparse_work_dir = build_config::kAzBlobSparseWorkDir;
    o.mutants = std::get<std::vector<mutants::Mutant>>(std::move(found));
    o.command_line = command_line;
    const auto campaign = mutants::run_campaign(o, std::cerr);
    std::cout << mutants::to_table(campaign) << std::flush;
    const bool written = write_or_say(mut_json, mutants::to_json(campaign), "mutants JSON");
    if (launcher::stop_requested()) return 128 + launcher::stop_signal_number();
    return mutants::campaign_ok(campaign) && written ? 0 : kExitFailed;
  }

  if (race_cmd->parsed()) {
    launcher::install_stop_handlers();
    auto found = load_selected_mutants(race_mutant_filters, false);
    if (auto* code = std::get_if<int>(&found)) return *code;
    const bool debug = race_guest.kernel == "debug";
    auto planned = make_plan(race_sel, debug);
    if (auto* code = std::get_if<int>(&planned)) return *code;
    auto config = suite_config(race_guest);
    if (auto* code = std::get_if<int>(&config)) return *code;
    const auto& plan = std::get<scenario::Plan>(planned);
    mutants::RaceBenchOptions o;
    o.races = mutants::pair_races(plan.scenarios, std::get<std::vector<mutants::Mutant>>(found), debug);
    if (o.races.empty()) {
      std::cerr << "vsc-harness: no scenario tagged race and item-N matches, or no stock mutant of its item\n";
      return kExitUsage;
    }
    std::cout << fmt::format("race-bench: run seed {}{}; {} gated run(s) each, {:.0f} s of ungated stress each\n",
                             plan.run_seed, plan.run_seed_drawn ? " (drawn)" : "", gated_runs, ungated_budget_s);
    for (const auto& r : o.races) {
      std::cout << fmt::format("  {} (item {}) x {}\n", r.gated.scenario.name(), r.mutant.item, r.mutant.name);
    }
    std::cout << std::flush;
    auto& guest_run = std::get<GuestRun>(config);
    o.suite = std::move(guest_run.suite);
    o.build = mutant_build_paths(guest_run.kernel);
    o.run_seed = plan.run_seed;
    o.gated_runs = gated_runs;
    o.ungated_budget_s = ungated_budget_s;
    const auto bench = mutants::run_race_bench(o, std::cerr);
    std::cout << mutants::to_table(bench) << std::flush;
    const bool written = write_or_say(race_json, mutants::to_json(bench), "race-bench JSON");
    if (launcher::stop_requested()) return 128 + launcher::stop_signal_number();
    return mutants::race_bench_ok(bench) && written ? 0 : kExitFailed;
  }

  launcher::install_stop_handlers();
  auto planned = make_plan(sel, guest.kernel == "debug");
  if (auto* code = std::get_if<int>(&planned)) return *code;
  const auto& plan = std::get<scenario::Plan>(planned);
  // The whole plan, seeds and faults included, before anything runs.
  std::cout << scenario::describe_plan(plan) << std::flush;

  auto configured = suite_config(guest);
  if (auto* code = std::get_if<int>(&configured)) return *code;
  auto& config = std::get<GuestRun>(configured).suite;
  if (!parse_module_overrides(module_specs, config.session)) return kExitUsage;
  config.keep_going = keep_going;
  config.iteration.trace_every_iteration = trace_all;

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
  o.set_kernel(guest.kernel == "stock" ? "" : guest.kernel);
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

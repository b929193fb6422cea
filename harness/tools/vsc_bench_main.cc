// vsc-bench: the end-to-end benchmarks in a real guest (docs/performance.md).
// Benchmarks, not tests: each prints its figures beside a baseline measured
// in the same run, and asserts nothing about speed.
//
//   vsc-bench boot [--kernel K]... [--runs N]
//       launcher start to the guest agent answering (vsp-sim up, the VMBus
//       transport loaded), N boots per kernel: median, min, max, and each
//       kernel's median against the first kernel's.
//   vsc-bench e2e [--kernel K] [--seconds S] [--op O]... [--size B]...
//                 [--threads N]... [--channels C] [--json F]
//       `azblob bench` in the guest through the real driver (VMBus) and over
//       plain HTTP/1.1 (QEMU user network to vsp-sim's HTTP server on the
//       same store): ops/s, p50/p99 latency, the ratio, and vsp-sim's CPU
//       time per request; then vsp-sim's own memory per open channel.
//   vsc-bench suite-report REPORT.json
//       scenarios per minute from a `vsc-harness run --json` report, and
//       where the time went.
//
// Exit status: 0 measured, 1 a guest or a run failed (an azblob bench with
// errors counts), 2 bad usage, 128+N stopped by signal N.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "guest_kernel.h"
#include "vscsim/bench/measure.h"
#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"
#include "vscsim/launcher/stop_signal.h"
#include "vscsim/report/json.h"
#include "vscsim/session/guest_session.h"

namespace {

using namespace vscsim;
namespace fs = std::filesystem;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr const char* kGuestAzblob = "/sbin/azblob";
// How the guest reaches the host's loopback on QEMU's user network.
constexpr const char* kHostFromGuest = "10.0.2.2";

struct GuestOptions {
  std::string accel = "tcg";
  double boot_timeout_s = 120;
};

// A session config for `kernel_choice`, or an error saying what is missing.
Result<session::SessionConfig, std::string> session_config(const std::string& kernel_choice,
                                                          const GuestOptions& g) {
  auto kernel = tools::resolve_guest_kernel(kernel_choice);
  if (!kernel.ok()) return Err(kernel.error());
  session::SessionConfig c;
  c.vsp_sim_binary = build_config::kVspSimBinary;
  if (!fs::exists(c.vsp_sim_binary)) {
    return Err(fmt::format("{} is missing: build the project first (cmake --build build)", c.vsp_sim_binary.string()));
  }
  c.kernel = kernel->kernel;
  c.initrd = kernel->initrd;
  c.firmware = kernel->firmware;
  c.kernel_args = kernel->kernel_args;
  c.name = "vsc-bench";
  c.boot_timeout = std::chrono::milliseconds(static_cast<long>(g.boot_timeout_s * 1000));
  const auto accel = launcher::parse_accel(g.accel);
  if (!accel) return Err("--accel must be tcg, kvm or auto");
  launcher::LaunchOptions probe;
  probe.kernel = c.kernel;
  probe.initrd = c.initrd;
  probe.firmware = c.firmware;
  probe.kernel_args = c.kernel_args;
  probe.kernel_args.push_back("vscsim.then=poweroff");
  c.accel = launcher::choose_accel(*accel, probe, build_config::kCacheDir).accel;
  return c;
}

// One blob device per channel, the transport loaded at boot; az_blob is
// loaded by load_drivers.
scenario::Setup blob_setup(unsigned devices) {
  scenario::Setup s;
  for (unsigned i = 0; i < devices; ++i) {
    auto* d = s.add_device();
    d->set_name(fmt::format("blob{}", i));
    d->set_kind("blob");
  }
  s.add_module(std::string(session::kTransportModule));
  s.add_module("az_blob");
  return s;
}

// ---- boot ----

int run_boot(const std::vector<std::string>& kernels, unsigned runs, const GuestOptions& g) {
  fmt::print("boot to ready: launcher start until the guest agent answers (vsp-sim running, {} loaded), "
             "{} runs per kernel, accel {}, {} host CPUs\n",
             session::kTransportModule, runs, g.accel, std::thread::hardware_concurrency());
  fmt::print("{:<10} {:>10} {:>10} {:>10} {:>12}   runs (s)\n", "kernel", "median s", "min s", "max s",
             "vs " + kernels.front());
  double baseline = 0;
  for (const auto& k : kernels) {
    auto config = session_config(k, g);
    if (!config.ok()) {
      std::cerr << "vsc-bench: --kernel " << k << ": " << config.error() << "\n";
      return kExitUsage;
    }
    std::vector<double> times;
    for (unsigned i = 0; i < runs; ++i) {
      auto s = session::GuestSession::start(*config, blob_setup(1));
      if (launcher::stop_requested()) return 128 + launcher::stop_signal_number();
      if (!s.ok()) {
        std::cerr << "vsc-bench: boot " << i + 1 << " on " << k << ": " << s.error() << "\n";
        return kExitFailed;
      }
      times.push_back((*s)->boot_seconds());
    }
    const auto sp = bench::spread(times);
    if (baseline == 0) baseline = sp.median;
    std::string each;
    for (double t : times) each += fmt::format(" {:.3f}", t);
    fmt::print("{:<10} {:>10.3f} {:>10.3f} {:>10.3f} {:>12.3f}  {}\n", k, sp.median, sp.min, sp.max,
               sp.median / baseline, each);
  }
  return 0;
}

// ---- e2e ----

struct E2eOptions {
  std::string kernel = "stock";
  double seconds = 3;
  std::vector<std::string> ops = {"put", "get"};
  std::vector<std::uint64_t> sizes = {4096, 1u << 20};
  std::vector<unsigned> threads = {1, 4, 16};
  unsigned channels = 4;
  std::string json_path;
};

struct E2eRow {
  bench::GuestResult result;
  double sim_cpu_us_per_op = 0;
};

// Runs one azblob bench in the guest, sampling vsp-sim's CPU time around it.
Result<E2eRow, std::string> run_guest_case(session::GuestSession& s, const bench::GuestCase& c) {
  agent::Op op;
  for (auto& a : bench::azblob_bench_argv(c, kGuestAzblob)) op.mutable_exec()->add_argv(std::move(a));
  const auto timeout = std::chrono::milliseconds(static_cast<long>(c.seconds * 1000)) + std::chrono::seconds(120);
  op.mutable_exec()->set_timeout_ms(static_cast<std::uint32_t>(timeout.count()));
  auto before = bench::sample_process(s.sim().pid());
  if (!before.ok()) return Err("vsp-sim: " + before.error());
  auto r = s.run_op(op, timeout + std::chrono::seconds(10));
  auto after = bench::sample_process(s.sim().pid());
  if (!r.ok()) return Err(r.error());
  if (!after.ok()) return Err("vsp-sim: " + after.error());
  const std::string what = fmt::format("azblob bench {} {} {} B x{}", bench::to_string(c.transport), c.op, c.size,
                                       c.threads);
  if (r->err() != 0 || r->value() != 0) {
    return Err(fmt::format("{}: {} exit {} {}\n{}{}", what, r->errno_name(), r->value(), r->detail(), r->data(),
                           ""));
  }
  auto parsed = bench::parse_guest_result(r->data());
  if (!parsed.ok()) return Err(what + ": " + parsed.error());
  if (parsed->errors != 0 || parsed->ops == 0) {
    return Err(fmt::format("{}: {} ops, {} errors: {}", what, parsed->ops, parsed->errors, r->detail()));
  }
  E2eRow row{*parsed, 0};
  row.sim_cpu_us_per_op = (after->cpu_seconds - before->cpu_seconds) * 1e6 / static_cast<double>(parsed->ops);
  return row;
}

Result<std::uint16_t, std::string> read_port(const fs::path& file) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(file);
    unsigned port = 0;
    if (in >> port && port > 0 && port < 65536) return static_cast<std::uint16_t>(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Err("vsp-sim wrote no HTTP port to " + file.string());
}

int run_e2e(const E2eOptions& o, const GuestOptions& g) {
  auto config = session_config(o.kernel, g);
  if (!config.ok()) {
    std::cerr << "vsc-bench: " << config.error() << "\n";
    return kExitUsage;
  }
  char tmpl[] = "/tmp/vsc-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::cerr << "vsc-bench: mkdtemp failed\n";
    return kExitFailed;
  }
  const fs::path tmp = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  config->user_network = true;
  config->sim_extra_args = {"--http-listen", "127.0.0.1:0", "--http-port-file", (tmp / "http.port").string()};
  const auto setup = blob_setup(1);
  auto started = session::GuestSession::start(*config, setup);
  if (!started.ok()) {
    std::cerr << "vsc-bench: " << started.error() << "\n";
    return kExitFailed;
  }
  auto& s = **started;
  if (auto r = s.load_drivers(setup); !r.ok()) {
    std::cerr << "vsc-bench: loading az_blob: " << r.error() << "\n";
    return kExitFailed;
  }
  auto port = read_port(tmp / "http.port");
  if (!port.ok()) {
    std::cerr << "vsc-bench: " << port.error() << "\n";
    return kExitFailed;
  }
  fmt::print("end to end, one channel: guest `azblob bench` through az_blob and VMBus, against the same "
             "operations over HTTP/1.1 (QEMU user network) to vsp-sim's HTTP server on the same store\n");
  fmt::print("guest kernel {}, 1 vCPU, accel {}, {} s per run, host {} CPUs\n", s.kernel_release(),
             launcher::to_string(config->accel), o.seconds, std::thread::hardware_concurrency());
  fmt::print("{:<4} {:>8} {:>3} | {:>9} {:>9} {:>9} {:>8} | {:>9} {:>9} {:>9} {:>8} | {:>7}\n", "op", "size", "thr",
             "vmbus/s", "p50 us", "p99 us", "sim us", "http/s", "p50 us", "p99 us", "sim us", "v/h");
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& op : o.ops) {
    for (auto size : o.sizes) {
      for (auto threads : o.threads) {
        std::map<bench::Transport, E2eRow> got;
        for (auto t : {bench::Transport::kVmbus, bench::Transport::kHttp}) {
          bench::GuestCase c;
          c.transport = t;
          c.op = op;
          c.size = size;
          c.threads = threads;
          c.seconds = o.seconds;
          c.http_endpoint = fmt::format("{}:{}", kHostFromGuest, *port);
          auto row = run_guest_case(s, c);
          if (launcher::stop_requested()) return 128 + launcher::stop_signal_number();
          if (!row.ok()) {
            // What a person needs to chase it: the simulator's view of the
            // channel, and the run folder (console, vsp-sim.log) kept.
            std::cerr << "vsc-bench: " << row.error() << "\nvsp-sim state: " << s.sim().ask("state") << "\n";
            s.keep_run_dir();
            std::cerr << "vsc-bench: run folder kept: " << s.guest().run_dir().string() << "\n";
            return kExitFailed;
          }
          got[t] = *row;
          const auto& r = row->result;
          rows.push_back({{"transport", r.transport}, {"op", r.op}, {"size", r.size}, {"threads", r.threads},
                          {"ops", r.ops}, {"seconds", r.seconds}, {"ops_per_s", r.ops_per_s},
                          {"mib_per_s", r.mib_per_s}, {"p50_us", r.p50_us}, {"p99_us", r.p99_us},
                          {"max_us", r.max_us}, {"sim_cpu_us_per_op", row->sim_cpu_us_per_op}});
        }
        const auto& v = got[bench::Transport::kVmbus];
        const auto& h = got[bench::Transport::kHttp];
        fmt::print("{:<4} {:>8} {:>3} | {:>9.1f} {:>9.0f} {:>9.0f} {:>8.1f} | {:>9.1f} {:>9.0f} {:>9.0f} {:>8.1f} | "
                   "{:>7.2f}\n",
                   op, size, threads, v.result.ops_per_s, v.result.p50_us, v.result.p99_us, v.sim_cpu_us_per_op,
                   h.result.ops_per_s, h.result.p50_us, h.result.p99_us, h.sim_cpu_us_per_op,
                   v.result.ops_per_s / h.result.ops_per_s);
        std::cout.flush();
      }
    }
  }
  fmt::print("sim us: vsp-sim's CPU time (user + system) per request; v/h: VMBus ops/s over HTTP ops/s\n");
  started->reset();

  // Memory: vsp-sim's own (anonymous) memory with the channels offered and
  // closed, then open with az_blob bound to each.
  auto mem_config = *config;
  mem_config.user_network = false;
  mem_config.sim_extra_args.clear();
  const auto mem_setup = blob_setup(o.channels);
  auto m = session::GuestSession::start(mem_config, mem_setup);
  if (!m.ok()) {
    std::cerr << "vsc-bench: " << m.error() << "\n";
    return kExitFailed;
  }
  auto closed = bench::sample_process((*m)->sim().pid());
  if (auto r = (*m)->load_drivers(mem_setup); !r.ok()) {
    std::cerr << "vsc-bench: loading az_blob on " << o.channels << " channels: " << r.error() << "\n";
    return kExitFailed;
  }
  auto open = bench::sample_process((*m)->sim().pid());
  if (!closed.ok() || !open.ok()) {
    std::cerr << "vsc-bench: sampling vsp-sim's memory failed\n";
    return kExitFailed;
  }
  const double per_channel =
      (static_cast<double>(open->rss_anon_kib) - static_cast<double>(closed->rss_anon_kib)) / o.channels;
  fmt::print("vsp-sim memory, {} blob channels: own (RssAnon) {} KiB offered and closed, {} KiB open: {:.0f} KiB "
             "per open channel; guest RAM it touched (RssShmem) {} KiB\n",
             o.channels, closed->rss_anon_kib, open->rss_anon_kib, per_channel, open->rss_shmem_kib);
  if (!o.json_path.empty()) {
    nlohmann::json j = {{"kernel", (*m)->kernel_release()},
                        {"seconds_per_run", o.seconds},
                        {"runs", rows},
                        {"memory",
                         {{"channels", o.channels},
                          {"rss_anon_kib_closed", closed->rss_anon_kib},
                          {"rss_anon_kib_open", open->rss_anon_kib},
                          {"rss_anon_kib_per_channel", per_channel},
                          {"rss_shmem_kib_open", open->rss_shmem_kib}}}};
    std::ofstream(o.json_path) << j.dump(1) << "\n";
  }
  return 0;
}

// ---- suite-report ----

int run_suite_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "vsc-bench: cannot read " << path << "\n";
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto report = report::from_json(text.str());
  if (!report.ok()) {
    std::cerr << "vsc-bench: " << path << ": " << report.error() << "\n";
    return kExitUsage;
  }
  const auto& r = *report;
  if (r.result_size() == 0 || r.duration_s() <= 0) {
    std::cerr << "vsc-bench: " << path << " holds no scenario runs\n";
    return kExitFailed;
  }
  double in_scenarios = 0;
  std::vector<std::pair<double, std::string>> longest;
  for (const auto& s : r.result()) {
    in_scenarios += s.duration_s();
    longest.emplace_back(s.duration_s(), s.name());
  }
  std::sort(longest.rbegin(), longest.rend());
  const double per_minute = r.result_size() * 60.0 / r.duration_s();
  fmt::print("suite: {} scenario runs in {:.1f} s on {} ({} CPUs, {}): {:.1f} scenarios per minute\n",
             r.result_size(), r.duration_s(), r.kernel().release(), r.host().cpus(), r.host().accel(), per_minute);
  fmt::print("  inside scenarios (steps, driver load and unload, checks): {:.1f} s ({:.0f}%); outside "
             "(boots, simulator resets, reports): {:.1f} s ({:.0f}%)\n",
             in_scenarios, 100 * in_scenarios / r.duration_s(), r.duration_s() - in_scenarios,
             100 * (r.duration_s() - in_scenarios) / r.duration_s());
  double top = 0;
  std::string names;
  for (std::size_t i = 0; i < std::min<std::size_t>(5, longest.size()); ++i) {
    top += longest[i].first;
    names += fmt::format("{}{} {:.1f} s", i ? ", " : "", longest[i].second, longest[i].first);
  }
  fmt::print("  the 5 longest take {:.1f} s ({:.0f}% of the run): {}\n", top, 100 * top / r.duration_s(), names);
  fmt::print("  median scenario {:.2f} s\n",
             bench::spread([&] {
               std::vector<double> v;
               for (const auto& s : r.result()) v.push_back(s.duration_s());
               return v;
             }())
                 .median);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"End-to-end benchmarks in a real guest: boot time, the driver against HTTP, the suite's pace."};
  app.require_subcommand(1);
  GuestOptions guest;
  const auto add_guest = [&](CLI::App* cmd) {
    cmd->add_option("--accel", guest.accel, "tcg (default), kvm or auto")->check(CLI::IsMember({"auto", "tcg", "kvm"}));
    cmd->add_option("--boot-timeout", guest.boot_timeout_s, "Seconds a boot may take")->check(CLI::Range(5.0, 3600.0));
  };

  std::vector<std::string> boot_kernels;
  unsigned runs = 5;
  auto* boot_cmd = app.add_subcommand("boot", "Boot to agent ready, N times per kernel: median, min, max");
  boot_cmd->add_option("--kernel", boot_kernels, "stock, debug, fast or an image path (repeatable; default stock fast)");
  boot_cmd->add_option("--runs", runs, "Boots per kernel")->check(CLI::Range(1u, 100u));
  add_guest(boot_cmd);

  E2eOptions e2e;
  auto* e2e_cmd = app.add_subcommand("e2e", "The driver against HTTP in one guest, and vsp-sim's cost");
  e2e_cmd->add_option("--kernel", e2e.kernel, "stock (default), fast, debug or an image path");
  e2e_cmd->add_option("--seconds", e2e.seconds, "Seconds per run")->check(CLI::Range(0.2, 600.0));
  e2e_cmd->add_option("--op", e2e.ops, "put, get (repeatable; default both)")->check(CLI::IsMember({"put", "get"}));
  e2e_cmd->add_option("--size", e2e.sizes, "Blob size in bytes (repeatable; default 4096 1048576)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{32} << 20));
  e2e_cmd->add_option("--threads", e2e.threads, "Guest threads (repeatable; default 1 4 16)")
      ->check(CLI::Range(1u, 64u));
  e2e_cmd->add_option("--channels", e2e.channels, "Blob channels for the memory figure")->check(CLI::Range(1u, 16u));
  e2e_cmd->add_option("--json", e2e.json_path, "Also write the figures as JSON");
  add_guest(e2e_cmd);

  std::string report_path;
  auto* suite_cmd = app.add_subcommand("suite-report", "Scenarios per minute from a vsc-harness run --json report");
  suite_cmd->add_option("report", report_path, "The report")->required();

  CLI11_PARSE(app, argc, argv);
  launcher::install_stop_handlers();
  try {
    if (*boot_cmd) {
      if (boot_kernels.empty()) boot_kernels = {"stock", "fast"};
      return run_boot(boot_kernels, runs, guest);
    }
    if (*e2e_cmd) return run_e2e(e2e, guest);
    return run_suite_report(report_path);
  } catch (const std::exception& e) {
    std::cerr << "vsc-bench: " << e.what() << "\n";
    return kExitFailed;
  }
}

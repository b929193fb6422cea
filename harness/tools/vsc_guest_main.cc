// vsc-guest: boots the project's guest under QEMU, loads the requested
// project modules, checks the console, and prints a boot report. It is the
// smallest complete use of the launcher, and the manual way in: with
// --device the simulator runs beside the guest (its VMBus host), and with
// --control its control socket gets a fixed path for vsc-ctl to fire faults
// from another terminal while the guest's shell is on this one. With --gdb,
// once the guest is ready it writes a gdb script (the kernel's symbols, the
// gdbstub, the project's modules at their load addresses: docs/gdb.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "guest_gdb.h"
#include "guest_kernel.h"
#include "vscsim/boot/boot.h"
#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"
#include "vscsim/launcher/stop_signal.h"
#include "vscsim/simctl/sim_process.h"

namespace {

using namespace vscsim;
using namespace std::chrono_literals;

int exit_code_for_stop() { return 128 + launcher::stop_signal_number(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Boot the vscsim guest under QEMU, load project modules and report.\n"
               "Exit status: 0 ready and clean, 1 the guest failed or the kernel reported a problem,\n"
               "2 bad usage or QEMU could not start, 128+N stopped by signal N."};
  std::string kernel = "stock";
  std::string initrd;
  std::vector<std::string> modules;
  std::vector<std::string> params;
  std::string accel_text = "auto";
  unsigned ram_mib = 512;
  unsigned cpus = 1;
  std::optional<std::uint16_t> gdb_port;
  bool gdb_wait = false;
  std::string gdb_script;
  bool user_network = false;
  double timeout_s = 120;
  std::string then = "stop";
  std::string console_log;
  std::string json_path;
  std::string name = "vscsim-guest";
  bool keep_run_dir = false;
  std::vector<std::string> qemu_args;
  std::vector<std::string> devices;
  std::string control_link;

  app.add_option("--kernel", kernel,
                 "Guest kernel: stock (the pinned Debian cloud kernel, default), debug (KASAN, lockdep, fault "
                 "injection; built by `cmake --build build --target debug_guest`), fast (trimmed for boot time; target "
                 "fast_guest) or an image path");
  app.add_option("--initrd", initrd, "Guest initramfs (default: the one this build packs for that kernel)")
      ->check(CLI::ExistingFile);
  app.add_option("--load", modules, "Project module to load in the guest (repeatable, in order), e.g. vsc_smoke")
      ->delimiter(',');
  app.add_option("--param", params, "Module parameter <module>.<param>=<value> (repeatable)");
  app.add_option("--accel", accel_text, "auto (KVM if a probe boot works, else TCG), tcg or kvm")
      ->check(CLI::IsMember({"auto", "tcg", "kvm"}));
  app.add_option("--ram", ram_mib, "Guest RAM in MiB")->check(CLI::Range(64u, 16384u));
  app.add_option("--cpus", cpus, "Guest CPUs")->check(CLI::Range(1u, 8u));
  app.add_option("--gdb", gdb_port, "Start QEMU's gdbstub on 127.0.0.1:PORT (adds nokaslr)");
  app.add_flag("--gdb-wait", gdb_wait, "With --gdb: start with the CPU halted until gdb continues");
  app.add_option("--gdb-script", gdb_script,
                 "With --gdb and --then wait|shell: write the gdb script here once the guest is ready "
                 "(default /tmp/vscsim-gdb-PORT.gdb); run `gdb -x FILE`. The stock kernel's debug symbols "
                 "are fetched into the cache the first time (about 280 MB)");
  app.add_option("--timeout", timeout_s, "Seconds the guest may take to become ready")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--then", then,
                 "After ready: stop (end the guest, default), wait (keep it running until Ctrl-C), "
                 "shell (a shell on this terminal; exit it or press Ctrl-A X to end)")
      ->check(CLI::IsMember({"stop", "wait", "shell"}));
  app.add_option("--console-log", console_log, "Keep the serial console in this file");
  app.add_option("--json", json_path, "Write the boot report as JSON to this file");
  app.add_option("--name", name, "QEMU guest name (shows in ps)");
  app.add_flag("--net", user_network,
               "A virtio-net card on QEMU's user network: the guest is 10.0.2.15 and reaches this "
               "host's loopback as 10.0.2.2");
  app.add_option("--device", devices,
                 "Run vsp-sim beside the guest offering this device (repeatable, relids 1, 2, ... in order): "
                 "blob, keyboard, blob-vpci. Load the transport with --load vscsim_vmbus,...");
  app.add_option("--control", control_link,
                 "With --device: make this path a link to the simulator's control socket, for "
                 "`vsc-ctl PATH rescind 1` and the like from another terminal");
  app.add_flag("--keep-run-dir", keep_run_dir, "Keep the run folder (console, QEMU stderr) after the guest ends");
  app.add_option("--qemu-arg", qemu_args,
                 "Extra QEMU argument (repeatable, in order), e.g. --qemu-arg=-device --qemu-arg=ivshmem-doorbell,...")
      ->allow_extra_args(false);
  CLI11_PARSE(app, argc, argv);

  launcher::install_stop_handlers();

  auto chosen = tools::resolve_guest_kernel(kernel);
  if (!chosen.ok()) {
    std::cerr << "vsc-guest: --kernel " << kernel << ": " << chosen.error() << "\n";
    return 2;
  }
  boot::BootRequest req;
  req.launch.kernel = chosen->kernel;
  req.launch.initrd = initrd.empty() ? chosen->initrd : std::filesystem::path(initrd);
  req.launch.kernel_args = chosen->kernel_args;
  req.launch.firmware = chosen->firmware;
  req.launch.ram_bytes = std::uint64_t{ram_mib} << 20;
  req.launch.cpus = cpus;
  req.launch.gdb_port = gdb_port;
  req.launch.gdb_wait = gdb_wait;
  req.launch.user_network = user_network;
  req.launch.console_log = console_log;
  req.launch.console_on_stdio = then == "shell";
  req.launch.name = name;
  req.launch.extra_args = qemu_args;
  std::unique_ptr<simctl::SimProcess> sim;
  if (!devices.empty()) {
    std::vector<std::string> sim_args;
    for (const auto& d : devices) {
      sim_args.push_back("--device");
      sim_args.push_back(d);
    }
    req.launch.before_qemu_starts = [&sim, sim_args](const launcher::BeforeQemuStarts& at) {
      sim = std::make_unique<simctl::SimProcess>(build_config::kVspSimBinary, at.run_dir, at.ram_path, sim_args);
      return std::vector<launcher::IvshmemDoorbell>{{sim->socket(), simctl::SimProcess::kIvshmemVectors}};
    };
  } else if (!control_link.empty()) {
    std::cerr << "vsc-guest: --control needs --device (no simulator runs without one)\n";
    return 2;
  }
  req.modules = modules;
  req.module_params = params;
  // The gdb script reads the modules' section addresses through the guest agent.
  const bool want_gdb_script = gdb_port && then != "stop";
  if (want_gdb_script && std::find(params.begin(), params.end(), "vscsim.agent=1") == params.end()) {
    req.module_params.push_back("vscsim.agent=1");
  }
  if (!gdb_script.empty() && !want_gdb_script) {
    std::cerr << "vsc-guest: --gdb-script needs --gdb and --then wait or shell\n";
    return 2;
  }
  req.ready_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  req.after_ready = then == "shell" ? boot::AfterReady::Shell : boot::AfterReady::Wait;
  // The guest's hard deadline: the ready timeout plus room to stop; "wait" and
  // "shell" run until the user ends them.
  req.launch.deadline = then == "stop" ? req.ready_timeout + 30s : std::chrono::hours(24 * 365);

  try {
    launcher::LaunchOptions probe = req.launch;
    probe.kernel_args = chosen->kernel_args;
    probe.kernel_args.push_back("vscsim.then=poweroff");
    probe.console_log.clear();
    probe.console_on_stdio = false;
    probe.gdb_port.reset();
    if (accel_text == "auto") std::cerr << "vsc-guest: choosing the accelerator (a KVM probe boot runs once per machine, up to 10 s)\n";
    const auto choice = launcher::choose_accel(*launcher::parse_accel(accel_text), probe, build_config::kCacheDir);
    if (launcher::stop_requested()) return exit_code_for_stop();
    req.launch.accel = choice.accel;
    std::cerr << "vsc-guest: accelerator " << launcher::to_string(choice.accel) << " (" << choice.reason << ")\n";
    if (gdb_port) std::cerr << "vsc-guest: gdbstub on 127.0.0.1:" << *gdb_port << "\n";

    auto outcome = boot::boot_until_ready(req);
    auto& guest = *outcome.guest;
    if (keep_run_dir) guest.keep_run_dir();
    auto& report = outcome.report;
    if (launcher::stop_requested()) {
      guest.stop();
      return exit_code_for_stop();
    }
    // The control socket's fixed path, for vsc-ctl from another terminal.
    struct ControlLink {
      std::filesystem::path path;
      ~ControlLink() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
      }
    } link;
    if (sim && !control_link.empty()) {
      std::error_code ec;
      if (std::filesystem::is_symlink(control_link, ec)) std::filesystem::remove(control_link, ec);
      std::filesystem::create_symlink(sim->control_socket(), control_link, ec);
      if (ec) {
        std::cerr << "vsc-guest: --control " << control_link << ": " << ec.message() << "\n";
      } else {
        link.path = control_link;
      }
    }
    if (sim) {
      const std::string ctl = link.path.empty() ? sim->control_socket().string() : link.path.string();
      std::cerr << "vsc-guest: vsp-sim runs beside the guest; from another terminal: vsc-ctl " << ctl
                << " state | rescind 1 | fault drop 1 count=1 | fault delay_ms 1 ms=500 | help\n";
    }
    if (report.ok() && want_gdb_script) {
      tools::GdbScriptRequest g;
      g.kernel = kernel;
      g.agent_socket = guest.agent_socket();
      g.port = *gdb_port;
      g.out = gdb_script.empty() ? tools::default_gdb_script_path(*gdb_port) : std::filesystem::path(gdb_script);
      const auto started = std::chrono::steady_clock::now();
      auto written = tools::write_gdb_script(g);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (written.ok()) {
        std::string names;
        for (const auto& m : written->modules) names += " " + m.name;
        std::cerr << fmt::format("vsc-guest: gdb script {} written in {:.1f} s (kernel symbols {}; modules:{})\n",
                                 g.out.string(), seconds, written->symbols.vmlinux.string(),
                                 names.empty() ? " none loaded" : names);
        std::cerr << "vsc-guest: from another terminal: gdb -x " << g.out.string() << "\n";
      } else {
        std::cerr << "vsc-guest: no gdb script: " << written.error() << " (the gdbstub still listens on 127.0.0.1:"
                  << *gdb_port << ")\n";
      }
    }
    if (report.ok() && then != "stop") {
      std::cerr << "vsc-guest: ready; " << (then == "shell" ? "guest shell on this terminal" : "press Ctrl-C to stop")
                << " (console: " << guest.console_log().string() << ", agent port: "
                << guest.agent_socket().string() << ")\n";
      while (guest.running() && !launcher::stop_requested()) std::this_thread::sleep_for(50ms);
    }
    if (!report.ok()) guest.keep_run_dir();  // keep the console and QEMU's stderr for a post-mortem
    const bool kept = keep_run_dir || !report.ok();
    const std::string run_dir = guest.run_dir().string();
    const auto exit = guest.stop();
    if (then != "stop") boot::check_console(guest, report);  // problems after ready count too
    if (console_log.empty() && !kept) report.clear_console_log();  // it went with the run folder
    if (kept) std::cerr << "vsc-guest: run folder kept: " << run_dir << "\n";
    if (then != "shell") std::cerr << "vsc-guest: QEMU " << exit.describe() << "\n";

    std::string text;
    google::protobuf::TextFormat::PrintToString(report, &text);
    std::cout << text;
    if (!report.ok()) std::cerr << "vsc-guest: FAILED: " << report.error() << "\n";
    if (!json_path.empty()) {
      std::string json;
      google::protobuf::util::JsonPrintOptions opts;
      opts.add_whitespace = true;
      opts.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(report, &json, opts);
      std::ofstream(json_path) << json << "\n";
    }
    if (launcher::stop_requested()) return exit_code_for_stop();
    return report.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "vsc-guest: error: " << e.what() << "\n";
    return 2;
  }
}

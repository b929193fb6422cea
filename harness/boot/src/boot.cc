#include "vscsim/boot/boot.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include "vscsim/checkers/console_scanner.h"
#include "vscsim/libvirt/libvirt_guest.h"

namespace vscsim::boot {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

const char* then_word(AfterReady a) {
  switch (a) {
    case AfterReady::Wait: return "wait";
    case AfterReady::PowerOff: return "poweroff";
    case AfterReady::Shell: return "shell";
  }
  return "wait";
}

// Words that follow `marker` up to the end of each line that has it.
std::vector<std::string> marked_words(const std::string& console, std::string_view marker) {
  std::vector<std::string> out;
  for (auto at = console.find(marker); at != std::string::npos; at = console.find(marker, at + 1)) {
    const auto start = at + marker.size();
    const auto end = console.find_first_of(" \r\n", start);
    out.push_back(console.substr(start, end == std::string::npos ? std::string::npos : end - start));
  }
  return out;
}

void fail(BootReport& report, const std::string& why) {
  report.set_ok(false);
  if (report.error().empty()) report.set_error(why);
}

}  // namespace

void check_console(launcher::Guest& guest, BootReport& report) {
  report.clear_console_findings();
  for (const auto& f : checkers::scan_console(guest.console())) {
    auto* out = report.add_console_findings();
    out->set_kind(f.kind);
    out->set_line_number(f.line_number);
    out->set_line(f.line);
  }
  if (report.console_findings_size() > 0) {
    const auto& first = report.console_findings(0);
    fail(report, fmt::format("the guest kernel reported {} problem(s); first: {} at console line {}",
                             report.console_findings_size(), first.kind(), first.line_number()));
  }
}

std::unique_ptr<launcher::Guest> launch_guest(const launcher::LaunchOptions& options) {
  switch (options.backend) {
    case launcher::Backend::Qemu: return launcher::QemuGuest::launch(options);
    case launcher::Backend::Libvirt: return libvirt::LibvirtGuest::launch(options);
  }
  throw launcher::LaunchError("unknown launcher backend");
}

BootOutcome boot_until_ready(const BootRequest& request) {
  launcher::LaunchOptions launch = request.launch;
  if (!request.modules.empty()) launch.kernel_args.push_back("vscsim.load=" + join(request.modules, ','));
  for (const auto& p : request.module_params) launch.kernel_args.push_back(p);
  launch.kernel_args.push_back(std::string("vscsim.then=") + then_word(request.after_ready));

  BootOutcome out;
  BootReport& report = out.report;
  report.set_ok(true);
  report.set_accel(std::string(launcher::to_string(launch.accel)));
  report.set_ram_bytes(launch.ram_bytes);
  out.guest = launch_guest(launch);
  auto& guest = *out.guest;
  report.set_console_log(guest.console_log().string());

  auto describe_wait = [&](launcher::WaitResult r, const char* what) {
    std::string why = fmt::format("{} {} (after {:.1f} s)", what, launcher::to_string(r.status),
                                  seconds_since(guest.started_at()));
    if (r.status == launcher::WaitStatus::GuestExited && guest.exit_info()) {
      why += "; QEMU " + guest.exit_info()->describe();
      if (auto err = guest.qemu_stderr(); !err.empty()) why += "; QEMU said: " + err.substr(0, err.find('\n'));
    }
    return why;
  };

  const auto deadline = request.ready_timeout;
  auto r = guest.wait_for_console(kInitStartMarker, deadline);
  if (r.status != launcher::WaitStatus::Found) {
    fail(report, describe_wait(r, "waiting for init:"));
    check_console(guest, report);
    return out;
  }
  report.set_launch_to_init_s(seconds_since(guest.started_at()));
  const auto line_end = guest.wait_for_console("\n", std::chrono::seconds(5), r.offset);
  if (line_end.status == launcher::WaitStatus::Found) {
    try {
      report.set_guest_uptime_at_init_s(std::stod(guest.console().substr(r.offset, line_end.offset - r.offset)));
    } catch (const std::exception&) {
      // a garbled uptime is reported as 0; the boot itself went on
    }
  }

  r = guest.wait_for_console(kReadyMarker, deadline, r.offset);
  if (r.status != launcher::WaitStatus::Found) {
    fail(report, describe_wait(r, "waiting for the guest to be ready:"));
  } else {
    report.set_launch_to_ready_s(seconds_since(guest.started_at()));
  }
  const std::string& console = guest.console();
  for (auto& m : marked_words(console, kLoadedMarker)) report.add_modules_loaded(m);
  if (auto failed = marked_words(console, kLoadFailedMarker); !failed.empty()) {
    fail(report, "module(s) failed to load in the guest: " + join(failed, ','));
  }
  if (const auto at = console.find("Linux version "); at != std::string::npos) {
    const auto start = at + 14;
    report.set_kernel_release(console.substr(start, console.find(' ', start) - start));
  }
  check_console(guest, report);
  return out;
}

}  // namespace vscsim::boot

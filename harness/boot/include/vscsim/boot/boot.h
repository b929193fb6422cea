// Boots a guest to "ready" (init up, the requested project modules loaded)
// and reports how it went: timings, modules, console findings. The piece both
// the `vsc-guest` command and the VM tests stand on.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "vscsim/guest.pb.h"
#include "vscsim/launcher/guest.h"
#include "vscsim/launcher/qemu_guest.h"

namespace vscsim::boot {

// The markers images/init prints on the console.
inline constexpr const char* kInitStartMarker = "vscsim-init: start uptime=";
inline constexpr const char* kReadyMarker = "vscsim-init: ready";
inline constexpr const char* kLoadedMarker = "vscsim-init: loaded ";
inline constexpr const char* kLoadFailedMarker = "vscsim-init: load-failed ";

// What happens once the guest is ready (images/init's vscsim.then).
enum class AfterReady { Wait, PowerOff, Shell };

struct BootRequest {
  launcher::LaunchOptions launch;            // kernel args for init are added here
  std::vector<std::string> modules;          // project modules to load, in order
  std::vector<std::string> module_params;    // "<module>.<param>=<value>"
  AfterReady after_ready = AfterReady::Wait;
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(120)};
};

struct BootOutcome {
  std::unique_ptr<launcher::Guest> guest;  // still running unless it ended
  BootReport report;
};

// Starts a guest with options.backend: QEMU as a child process, or a
// libvirt domain. Throws launcher::LaunchError when it cannot be started.
std::unique_ptr<launcher::Guest> launch_guest(const launcher::LaunchOptions& options);

// Never throws for a guest that misbehaves (that goes into report.error);
// throws launcher::LaunchError when QEMU cannot be started at all.
BootOutcome boot_until_ready(const BootRequest& request);

// Fills report.console_findings and report.ok from the console captured so far.
void check_console(launcher::Guest& guest, BootReport& report);

}  // namespace vscsim::boot

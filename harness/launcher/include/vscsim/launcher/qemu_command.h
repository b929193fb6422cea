// Builds the QEMU command line for a guest. A pure function, so the exact
// arguments are unit-tested without starting QEMU.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "vscsim/launcher/launch_options.h"

namespace vscsim::launcher {

// Where the per-run resources live; chosen by the launcher before QEMU starts.
struct RunResources {
  int ram_fd = -1;                         // memfd inherited by QEMU
  std::filesystem::path console_log;
  std::filesystem::path agent_socket;      // virtio-serial port for the guest agent
  std::filesystem::path run_script;        // LaunchOptions::run_script as a file, or empty
};

// The fw_cfg name under which the guest finds the run script
// (/sys/firmware/qemu_fw_cfg/by_name/<name>/raw).
inline constexpr const char* kRunScriptFwCfgName = "opt/org.vscsim/run";

// The name under which the guest agent's virtio-serial port appears in the
// guest (/dev/virtio-ports/<name>).
inline constexpr const char* kAgentPortName = "org.vscsim.agent.0";

// argv for execvp, argv[0] included. Throws std::invalid_argument when the
// options cannot describe a guest (Auto accel, no kernel, RAM not in MiB).
std::vector<std::string> qemu_command(const LaunchOptions& options, const RunResources& run);

// The kernel command line the guest gets.
std::string kernel_command_line(const LaunchOptions& options);
// QEMU's -smp value: `cpus`, and for TCG room for a second CPU (see the
// definition: without it TCG drops the guest's memory barriers).
std::string smp_argument(const LaunchOptions& options);

}  // namespace vscsim::launcher

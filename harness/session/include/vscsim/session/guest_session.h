// A guest booted for scenarios: QEMU with the project's initramfs, vsp-sim
// beside it offering a setup's devices, the guest agent connected, and the
// transport module loaded. vsc-harness keeps one alive across the scenarios
// that share its boot key and loads, checks and unloads the drivers under
// test around each scenario.
//
// The transport module (vscsim_vmbus, the guest's VMBus bus like hv_vmbus in
// a Hyper-V guest) stays loaded for the session's life; every other module
// of the setup is a driver under test, loaded by the agent before each
// scenario and unloaded after it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/agent/client.h"
#include "vscsim/base/result.h"
#include "vscsim/launcher/qemu_guest.h"
#include "vscsim/scenario.pb.h"
#include "vscsim/simctl/sim_process.h"

namespace vscsim::session {

inline constexpr std::string_view kTransportModule = "vscsim_vmbus";
// Where the initramfs keeps the project's modules.
inline constexpr std::string_view kGuestModuleDir = "/lib/vscsim";
// Where an overridden module's bytes are written in the guest (/tmp exists in
// the initramfs; the agent's WriteFile creates files, not folders).
inline constexpr std::string_view kGuestOverridePrefix = "/tmp/vscsim-override.";

// The guest path an overridden module is loaded from: <prefix><module>.ko.
std::string override_guest_path(std::string_view module);

struct SessionConfig {
  std::filesystem::path vsp_sim_binary;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::filesystem::path firmware;  // LaunchOptions::firmware (empty: SeaBIOS)
  // More kernel command-line arguments (the debug kernel's hung-task timeout).
  std::vector<std::string> kernel_args;
  launcher::Accel accel = launcher::Accel::Tcg;  // resolved (never Auto)
  launcher::Backend backend = launcher::Backend::Qemu;
  std::string name = "vsc-harness";
  std::chrono::milliseconds boot_timeout{std::chrono::seconds(120)};
  // The guest is killed after this long whatever happens (launcher deadline).
  std::chrono::milliseconds lifetime{std::chrono::hours(6)};
  bool keep_run_dirs = false;  // keep every run folder, not only failed ones
  // QEMU's user network in the guest (LaunchOptions::user_network), and more
  // vsp-sim arguments after the devices: the benchmarks' HTTP path.
  bool user_network = false;
  std::vector<std::string> sim_extra_args;
  // Driver modules to load from a host file instead of the initramfs's
  // /lib/vscsim (module name -> host path of its .ko), e.g. a mutant of
  // az_blob. The file is copied into the guest once per session.
  std::map<std::string, std::filesystem::path> module_override;
};

// Scenarios with the same key can share a boot: the devices offered (kinds in
// relid order) and whether the transport is loaded.
std::string boot_key(const scenario::Setup& setup);

// The setup's driver modules: setup.module without the transport, in load order.
std::vector<std::string> driver_modules(const scenario::Setup& setup);

// The insmod parameters of `module` from setup.param ("module.param" -> value),
// as "p1=v1 p2=v2", in key order.
std::string module_params(const scenario::Setup& setup, std::string_view module);

// The relid of a Setup.device name (its index + 1); 0 if no such device.
std::uint32_t relid_of(const scenario::Setup& setup, std::string_view device);

class GuestSession {
 public:
  // Boots, starts vsp-sim with the setup's devices, loads the transport,
  // connects the agent. The error says what failed, with the console's tail.
  static Result<std::unique_ptr<GuestSession>, std::string> start(const SessionConfig& config,
                                                                   const scenario::Setup& setup);
  ~GuestSession();
  GuestSession(const GuestSession&) = delete;
  GuestSession& operator=(const GuestSession&) = delete;

  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] launcher::Guest& guest() { return *guest_; }
  [[nodiscard]] simctl::SimProcess& sim() { return *sim_; }
  [[nodiscard]] simctl::SimControl& control() { return *control_; }
  [[nodiscard]] agent::AgentClient& agent() { return *agent_; }
  [[nodiscard]] const std::string& kernel_release() const { return kernel_release_; }
  [[nodiscard]] double boot_seconds() const { return boot_seconds_; }

  // The simulator back to a fresh start for the next scenario: released
  // channels offered again and offered, faults cleared, blob stores emptied,
  // the packet trace cleared.
  Result<void, std::string> reset_host(const scenario::Setup& setup);
  // Loads the setup's drivers with their parameters and waits until each blob
  // device's channel is open. An overridden module (SessionConfig::
  // module_override) is written into the guest on first use and loaded from
  // there (override_guest_path).
  Result<void, std::string> load_drivers(const scenario::Setup& setup);
  // Whether `module` is loaded from an override (SessionConfig::module_override).
  [[nodiscard]] bool overridden(std::string_view module) const {
    return module_override_.contains(std::string(module));
  }
  // One agent operation on the agent's "main" thread of process "harness".
  Result<agent::OpResult, std::string> run_op(const agent::Op& op, std::chrono::milliseconds timeout);
  // A guest file's contents (sysfs, debugfs); nullopt if it does not exist.
  Result<std::optional<std::string>, std::string> read_guest_file(const std::string& path);

  // Unusable from now on (the guest or the agent failed, or a driver would
  // not unload): vsc-harness boots a new session for the next scenario.
  void mark_broken(std::string why) {
    if (broken_.empty()) broken_ = std::move(why);
  }
  [[nodiscard]] const std::string& broken() const { return broken_; }
  // Checks that QEMU runs and the agent answers; marks the session broken if not.
  bool healthy();

  // Keeps the run folder (console.log, qemu.stderr, vsp-sim.log, traces).
  void keep_run_dir();

 private:
  GuestSession() = default;

  std::string key_;
  std::unique_ptr<simctl::SimProcess> sim_;
  std::unique_ptr<launcher::Guest> guest_;
  std::optional<simctl::SimControl> control_;
  std::unique_ptr<agent::AgentClient> agent_;
  std::string kernel_release_;
  std::map<std::string, std::filesystem::path> module_override_;
  std::set<std::string> overrides_written_;  // modules already copied into this guest
  double boot_seconds_ = 0;
  std::string broken_;
};

}  // namespace vscsim::session

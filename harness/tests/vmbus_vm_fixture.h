// Shared by the VM tests that run Debian's hyperv-keyboard against vsp-sim:
// the simulator as a child process, a boot with the simulator attached, the
// guest script's "vscsim-run: ..." lines, the host's "go" for a script that
// must pause, and the check that the keyboard is bound.
//
// The guest side of each test is a busybox sh script (LaunchOptions::run_script)
// that starts with keyboard_script_prelude(): the keyboard's class_id in $K,
// the bind wait in $W (tenths of a second) and the shell functions
//   dev        the keyboard's /sys/bus/vmbus/devices/<id> folder ("" if none)
//   waitfor C N  evaluates C every 0.1 s, at most N times
//   bound      the keyboard is on the bus with a driver bound
//   report W   prints "W dev=<id> class_id=<guid> driver=<name>"
//   wait_go    blocks until the test calls GoLine::go() (about 60 s at most)
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vscsim/boot/boot.h"
#include "vscsim/launcher/qemu_guest.h"
#include "vscsim/simctl/sim_process.h"

namespace vscsim::vmtest {

inline constexpr const char* kKeyboardClassId = "{f912ad6d-2b17-48ea-bd65-f927a61c7684}";

std::string read_file(const std::filesystem::path& p);

// vsp-sim as a child of the test (harness/simctl): boot_with_sim starts it
// offering the keyboard (relid 1) and logging into the guest's run folder.
using SimProcess = simctl::SimProcess;

// The shell prelude described at the top of this file.
std::string keyboard_script_prelude(int bound_wait);

launcher::LaunchOptions base_options(const std::string& name);

struct Run {
  std::unique_ptr<SimProcess> sim;
  boot::BootOutcome boot;
};

// The init switches of boot_with_sim's default: evdev, then hyperv_keyboard forced.
inline const std::vector<std::string> kKeyboardKernelArgs{"vscsim.kmod=evdev",
                                                          "vscsim.force_load=hyperv_keyboard"};

// Boots a guest that loads `modules` (project modules, in order), then what
// `kernel_args` asks init for, and runs `script`, with vsp-sim started by the
// launcher hook (with `sim_args` after its `--device keyboard`) and sent
// `sim_commands` before QEMU starts.
Run boot_with_sim(const std::string& name, const std::string& script,
                  const std::vector<std::string>& sim_commands,
                  const std::vector<std::string>& kernel_args = kKeyboardKernelArgs,
                  const std::vector<std::string>& sim_args = {},
                  const std::vector<std::string>& modules = {"vscsim_vmbus"});

// The guest's "vscsim-run: <word> ..." line, waiting for it.
std::optional<std::string> run_line(launcher::Guest& g, const std::string& word,
                                    std::chrono::seconds timeout);

// The check a scenario relies on: the script's first line says the keyboard is
// on the vmbus bus with its class_id and hyperv_keyboard bound to it.
bool keyboard_bound(launcher::Guest& g, std::chrono::seconds timeout, std::string* why);

// The host's end of the guest agent's virtio-serial port, held open for the
// whole test (a connection closed at once could lose what it wrote before the
// guest opened the port): go() lets a script blocked in wait_go continue.
class GoLine {
 public:
  explicit GoLine(launcher::Guest& g);
  ~GoLine();
  GoLine(const GoLine&) = delete;
  GoLine& operator=(const GoLine&) = delete;
  bool go();

 private:
  int fd_ = -1;
};

// Keeps the guest's run folder (console.log, qemu.stderr, vsp-sim.log) when
// the test case failed, and says where it is.
struct KeepOnFailure {
  launcher::Guest& guest;
  ~KeepOnFailure();
};

double since(std::chrono::steady_clock::time_point t0);

// Logs the guest's marker and vmbus lines and the simulator's log (ctest -V).
void log_for_the_record(launcher::Guest& g, const SimProcess& sim);

}  // namespace vscsim::vmtest

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

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vscsim/boot/boot.h"
#include "vscsim/launcher/qemu_guest.h"

namespace vscsim::vmtest {

inline constexpr const char* kKeyboardClassId = "{f912ad6d-2b17-48ea-bd65-f927a61c7684}";

std::string read_file(const std::filesystem::path& p);

// vsp-sim as a child of the test offering the keyboard (relid 1): dies with
// the test (PR_SET_PDEATHSIG), is stopped by pid (SIGTERM, then SIGKILL), and
// logs into the guest's run folder.
class SimProcess {
 public:
  SimProcess(const std::filesystem::path& run_dir, const std::filesystem::path& ram_path,
             const std::vector<std::string>& extra);
  ~SimProcess() { stop(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // One control command, one answer line ("" if the socket is gone).
  std::string ask(const std::string& line) const;
  // Asks `state` until it contains every word in `needles` (or times out).
  bool wait_state(const std::vector<std::string>& needles, std::chrono::milliseconds timeout,
                  std::string* last = nullptr) const;
  bool exited();
  // SIGTERM (clean shutdown), SIGKILL after 5 s; returns the wait status
  // (the one already collected if it has exited).
  int stop();
  // SIGKILL at once (a crash: no host_state Stopped, the heartbeat stalls),
  // reaped; returns the wait status.
  int kill_now();
  [[nodiscard]] std::string log() const { return read_file(log_); }
  [[nodiscard]] const std::filesystem::path& socket() const { return socket_; }

 private:
  std::filesystem::path socket_, control_, log_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

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
std::optional<std::string> run_line(launcher::QemuGuest& g, const std::string& word,
                                    std::chrono::seconds timeout);

// The check a scenario relies on: the script's first line says the keyboard is
// on the vmbus bus with its class_id and hyperv_keyboard bound to it.
bool keyboard_bound(launcher::QemuGuest& g, std::chrono::seconds timeout, std::string* why);

// The host's end of the guest agent's virtio-serial port, held open for the
// whole test (a connection closed at once could lose what it wrote before the
// guest opened the port): go() lets a script blocked in wait_go continue.
class GoLine {
 public:
  explicit GoLine(launcher::QemuGuest& g);
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
  launcher::QemuGuest& guest;
  ~KeepOnFailure();
};

double since(std::chrono::steady_clock::time_point t0);

// Logs the guest's marker and vmbus lines and the simulator's log (ctest -V).
void log_for_the_record(launcher::QemuGuest& g, const SimProcess& sim);

}  // namespace vscsim::vmtest

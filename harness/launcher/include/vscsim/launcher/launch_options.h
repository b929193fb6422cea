// What a guest is started with. Plain data; qemu_command.h turns it into a
// QEMU command line and qemu_guest.h runs it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vscsim::launcher {

// Which QEMU accelerator runs the guest. Auto means: KVM if a probe boot with it
// works on this machine (kvm_probe.h), else TCG.
enum class Accel { Auto, Tcg, Kvm };

std::string_view to_string(Accel accel);
// "auto", "tcg" or "kvm"; anything else is std::nullopt.
std::optional<Accel> parse_accel(std::string_view text);

// What starts QEMU: the launcher itself (qemu_guest.h), or libvirtd as a
// transient domain (harness/libvirt), as a developer's libvirt setup would.
enum class Backend { Qemu, Libvirt };
std::string_view to_string(Backend backend);
// "qemu" or "libvirt"; anything else is std::nullopt.
std::optional<Backend> parse_backend(std::string_view text);

// An ivshmem-doorbell PCI device whose server (vsp-sim) listens on
// `server_socket`: the VMBus transport's doorbells and BAR2 region.
struct IvshmemDoorbell {
  std::filesystem::path server_socket;
  unsigned vectors = 2;
};

// What a before_qemu_starts hook learns: where the guest RAM and the run
// folder are, once they exist.
struct BeforeQemuStarts {
  // /proc/<launcher pid>/fd/<n>, the guest RAM memfd. Empty when QEMU makes
  // the RAM file itself later (libvirt): find it from QEMU's side then
  // (vsp-sim --guest-ram-from-peer).
  std::filesystem::path ram_path;
  std::filesystem::path run_dir;   // removed with the guest; a place for sockets and logs
  Backend backend = Backend::Qemu;
};

struct LaunchOptions {
  std::string qemu = "qemu-system-x86_64";
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  // The guest firmware (QEMU's -bios); empty: QEMU's default, SeaBIOS. The
  // fast kernel boots with qboot, which starts it about 50 ms sooner.
  std::filesystem::path firmware;
  // Appended to the fixed part of the kernel command line (console, panic).
  std::vector<std::string> kernel_args;
  std::uint64_t ram_bytes = 512ull << 20;
  unsigned cpus = 1;
  Accel accel = Accel::Tcg;  // Auto must be resolved before launch
  Backend backend = Backend::Qemu;
  // QEMU's gdbstub on 127.0.0.1:<port>; with gdb_wait the CPU starts halted.
  std::optional<std::uint16_t> gdb_port;
  bool gdb_wait = false;
  // The guest is killed when this much time has passed since launch,
  // whatever its owner is doing.
  std::chrono::milliseconds deadline{std::chrono::minutes(5)};
  // Serial console: always logged to console_log (default: in the run folder);
  // with console_on_stdio it is also the terminal (for an interactive shell).
  std::filesystem::path console_log;
  bool console_on_stdio = false;
  // A shell script the guest's init runs once ready, its output on the
  // console prefixed "vscsim-run: " (images/init). It reaches the guest as a
  // QEMU fw_cfg file, not on the kernel command line (2048 bytes in all).
  std::string run_script;
  // A virtio-net card on QEMU's user-mode network (slirp): the guest is
  // 10.0.2.15 and reaches the host's loopback as 10.0.2.2. The kernel gets
  // vscsim.net=1, so images/init loads virtio_net and configures eth0. For
  // the HTTP baseline of the benchmarks; nothing else needs a network.
  bool user_network = false;
  // The VMBus transport's devices (before_qemu_starts adds to them).
  std::vector<IvshmemDoorbell> ivshmem;
  // Extra QEMU arguments, appended as given (QEMU backend only).
  std::vector<std::string> extra_args;
  std::string name = "vscsim-guest";
  // Called once, after the guest RAM memfd and the run folder exist and
  // before QEMU is started, from the launching thread. It starts what QEMU
  // needs already running (the simulator, listening on a socket in run_dir,
  // mapping ram_path) and returns the ivshmem devices naming those sockets,
  // added after `ivshmem`. If it throws, the launch fails and the launcher
  // cleans up as for any failed launch; whatever the hook started is the
  // hook owner's to stop.
  std::function<std::vector<IvshmemDoorbell>(const BeforeQemuStarts&)> before_qemu_starts;
};

}  // namespace vscsim::launcher

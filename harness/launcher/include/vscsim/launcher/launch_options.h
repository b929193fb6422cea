// What a guest is started with. Plain data; qemu_command.h turns it into a
// QEMU command line and qemu_guest.h runs it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
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

struct LaunchOptions {
  std::string qemu = "qemu-system-x86_64";
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  // Appended to the fixed part of the kernel command line (console, panic).
  std::vector<std::string> kernel_args;
  std::uint64_t ram_bytes = 512ull << 20;
  unsigned cpus = 1;
  Accel accel = Accel::Tcg;  // Auto must be resolved before launch
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
  // Extra QEMU arguments, e.g. the ivshmem device of the VMBus transport.
  std::vector<std::string> extra_args;
  std::string name = "vscsim-guest";
};

}  // namespace vscsim::launcher

// Which guest kernel a command boots, from its --kernel choice: "stock" (the
// pinned Debian cloud kernel), "debug" (images/build-kernel.sh debug: KASAN,
// lockdep, fault injection), "fast" (images/build-kernel.sh fast: trimmed for
// boot time) or the path of another kernel image (booted with the stock
// initramfs, so its modules must match the stock kernel's).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::tools {

struct GuestKernel {
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  // Command-line arguments this kernel boots with beyond the launcher's own
  // (debug: a short hung-task timeout, every KASAN report).
  std::vector<std::string> kernel_args;
  // The firmware it boots with (LaunchOptions::firmware; empty: SeaBIOS).
  std::filesystem::path firmware;
  // What out-of-tree modules for it are built against (mutants).
  std::filesystem::path module_build_dir;
  std::filesystem::path vmbus_symvers;
  bool debug = false;
  // Whose modules it loads: "stock" (also for an image path), "debug", "fast".
  std::string modules_of = "stock";
};

// The debug kernel's hung-task timeout: short enough that a task stuck in D
// state is reported within one scenario's deadline, long enough for the
// longest legitimate uninterruptible wait (a race gate's bound).
inline constexpr int kDebugHungTaskTimeoutSeconds = 10;

// The fast kernel boots without the local APIC timer: its calibration waits
// 100 ms at every boot, and one CPU does as well with the HPET.
inline constexpr const char* kFastKernelArgs[] = {"nolapic_timer"};
// ... and with qboot (qemu-system-data's minimal firmware) instead of SeaBIOS.
inline constexpr const char* kFastFirmware = "/usr/share/qemu/qboot.rom";

// A kernel this build makes from source: its image, initramfs, module build
// tree, vscsim_vmbus's symbol versions for it, its release and the target
// that builds it all.
struct BuiltKernelPaths {
  std::filesystem::path kernel, initrd, build_dir, vmbus_symvers;
  std::string release;
  std::string target;  // e.g. debug_guest
};

// Where this build keeps each kernel's artifacts (from build_config.h).
struct KernelPaths {
  std::filesystem::path stock_kernel, stock_initrd, stock_build_dir, stock_vmbus_symvers;
  BuiltKernelPaths debug, fast;
  std::filesystem::path cache_dir;
};
KernelPaths build_kernel_paths();

// An error names what is missing and the command that builds it.
Result<GuestKernel, std::string> resolve_guest_kernel(std::string_view choice,
                                                      const KernelPaths& paths = build_kernel_paths());

}  // namespace vscsim::tools

// Which guest kernel a command boots, from its --kernel choice: "stock" (the
// pinned Debian cloud kernel), "debug" (images/build-kernel.sh debug: KASAN,
// lockdep, fault injection) or the path of another kernel image (booted with
// the stock initramfs, so its modules must match the stock kernel's).
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
  // What out-of-tree modules for it are built against (mutants).
  std::filesystem::path module_build_dir;
  std::filesystem::path vmbus_symvers;
  bool debug = false;
};

// The debug kernel's hung-task timeout: short enough that a task stuck in D
// state is reported within one scenario's deadline, long enough for the
// longest legitimate uninterruptible wait (a race gate's bound).
inline constexpr int kDebugHungTaskTimeoutSeconds = 10;

// Where this build keeps each kernel's artifacts (from build_config.h).
struct KernelPaths {
  std::filesystem::path stock_kernel, stock_initrd, stock_build_dir, stock_vmbus_symvers;
  std::filesystem::path debug_kernel, debug_initrd, debug_build_dir, debug_vmbus_symvers;
  std::string debug_release;
  std::filesystem::path cache_dir;
};
KernelPaths build_kernel_paths();

// An error names what is missing and the command that builds it.
Result<GuestKernel, std::string> resolve_guest_kernel(std::string_view choice,
                                                      const KernelPaths& paths = build_kernel_paths());

}  // namespace vscsim::tools

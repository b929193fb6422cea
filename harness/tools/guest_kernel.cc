#include "guest_kernel.h"

#include <fmt/format.h>

#include "vscsim/build_config.h"

namespace vscsim::tools {

namespace fs = std::filesystem;

KernelPaths build_kernel_paths() {
  KernelPaths p;
  p.stock_kernel = build_config::kStockKernel;
  p.stock_initrd = build_config::kStockInitramfs;
  p.stock_build_dir = build_config::kKernelBuildDir;
  p.stock_vmbus_symvers = build_config::kVmbusSymvers;
  p.debug_kernel = build_config::kDebugKernel;
  p.debug_initrd = build_config::kDebugInitramfs;
  p.debug_build_dir = build_config::kDebugKernelBuildDir;
  p.debug_vmbus_symvers = build_config::kDebugVmbusSymvers;
  p.debug_release = build_config::kDebugKernelRelease;
  p.cache_dir = build_config::kCacheDir;
  return p;
}

Result<GuestKernel, std::string> resolve_guest_kernel(std::string_view choice, const KernelPaths& paths) {
  GuestKernel g;
  g.initrd = paths.stock_initrd;
  g.module_build_dir = paths.stock_build_dir;
  g.vmbus_symvers = paths.stock_vmbus_symvers;
  if (choice == "stock") {
    g.kernel = paths.stock_kernel;
  } else if (choice == "debug") {
    g.debug = true;
    g.kernel = paths.debug_kernel;
    g.initrd = paths.debug_initrd;
    g.module_build_dir = paths.debug_build_dir;
    g.vmbus_symvers = paths.debug_vmbus_symvers;
    // kasan_multi_shot: every KASAN report, not only the first of the boot.
    g.kernel_args = {fmt::format("sysctl.kernel.hung_task_timeout_secs={}", kDebugHungTaskTimeoutSeconds),
                     "kasan_multi_shot"};
    for (const fs::path& needed : {g.kernel, g.initrd, g.vmbus_symvers}) {
      if (!fs::exists(needed)) {
        return Err(fmt::format(
            "the debug kernel ({}) is not built: {} is missing. Build it once with "
            "`cmake --build <build folder> --target debug_guest` (a kernel build from Debian's source, "
            "tens of minutes on 2 cores; cached in {})",
            paths.debug_release, needed.string(), (paths.cache_dir / "kernel-build").string()));
      }
    }
  } else {
    g.kernel = fs::path(choice);
    if (!fs::is_regular_file(g.kernel)) {
      return Err(fmt::format("no such file {} (stock, debug, or a kernel image path)", choice));
    }
  }
  if (!fs::exists(g.initrd)) {
    return Err(fmt::format("{} is missing: build the project first (cmake --build <build folder>)", g.initrd.string()));
  }
  return g;
}

}  // namespace vscsim::tools

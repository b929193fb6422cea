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
  p.debug = {build_config::kDebugKernel, build_config::kDebugInitramfs, build_config::kDebugKernelBuildDir,
             build_config::kDebugVmbusSymvers, build_config::kDebugKernelRelease, "debug_guest"};
  p.fast = {build_config::kFastKernel, build_config::kFastInitramfs, build_config::kFastKernelBuildDir,
            build_config::kFastVmbusSymvers, build_config::kFastKernelRelease, "fast_guest"};
  p.cache_dir = build_config::kCacheDir;
  return p;
}

namespace {

// A kernel built from source: its paths, or what is missing and how to build it.
Result<void, std::string> use_built(const BuiltKernelPaths& built, std::string_view name, const fs::path& cache_dir,
                                    GuestKernel& g) {
  g.modules_of = std::string(name);
  g.kernel = built.kernel;
  g.initrd = built.initrd;
  g.module_build_dir = built.build_dir;
  g.vmbus_symvers = built.vmbus_symvers;
  for (const fs::path& needed : {g.kernel, g.initrd, g.vmbus_symvers}) {
    if (!fs::exists(needed)) {
      return Err(fmt::format(
          "the {} kernel ({}) is not built: {} is missing. Build it once with "
          "`cmake --build <build folder> --target {}` (a kernel build from Debian's source, "
          "about ten minutes on 2 cores; cached in {})",
          name, built.release, needed.string(), built.target, (cache_dir / "kernel-build").string()));
    }
  }
  return {};
}

}  // namespace

Result<GuestKernel, std::string> resolve_guest_kernel(std::string_view choice, const KernelPaths& paths) {
  GuestKernel g;
  g.initrd = paths.stock_initrd;
  g.module_build_dir = paths.stock_build_dir;
  g.vmbus_symvers = paths.stock_vmbus_symvers;
  if (choice == "stock") {
    g.kernel = paths.stock_kernel;
  } else if (choice == "debug") {
    g.debug = true;
    if (auto r = use_built(paths.debug, "debug", paths.cache_dir, g); !r.ok()) return Err(std::move(r.error()));
    // kasan_multi_shot: every KASAN report, not only the first of the boot.
    g.kernel_args = {fmt::format("sysctl.kernel.hung_task_timeout_secs={}", kDebugHungTaskTimeoutSeconds),
                     "kasan_multi_shot"};
  } else if (choice == "fast") {
    if (auto r = use_built(paths.fast, "fast", paths.cache_dir, g); !r.ok()) return Err(std::move(r.error()));
    g.kernel_args.assign(std::begin(kFastKernelArgs), std::end(kFastKernelArgs));
    g.firmware = kFastFirmware;
  } else {
    g.kernel = fs::path(choice);
    if (!fs::is_regular_file(g.kernel)) {
      return Err(fmt::format("no such file {} (stock, debug, fast, or a kernel image path)", choice));
    }
  }
  if (!fs::exists(g.initrd)) {
    return Err(fmt::format("{} is missing: build the project first (cmake --build <build folder>)", g.initrd.string()));
  }
  return g;
}

}  // namespace vscsim::tools

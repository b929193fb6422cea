// Chooses the accelerator. /dev/kvm can exist and still not run this guest
// (seen on the project's machines: KVM spins in the host kernel and the guest
// never reaches init), so "auto" boots the guest once under KVM with a short
// deadline and uses KVM only if init came up. The verdict is cached per host
// kernel, QEMU version and guest kernel, so the probe costs once per machine.
#pragma once

#include <filesystem>
#include <string>

#include "vscsim/launcher/launch_options.h"

namespace vscsim::launcher {

struct AccelChoice {
  Accel accel = Accel::Tcg;
  std::string reason;   // one line for the log, e.g. "KVM probe booted in 0.9 s"
  bool from_cache = false;
};

// Tcg and Kvm are returned as asked. For Auto, `probe_guest` describes a guest
// whose init prints the ready marker and powers off (vscsim.then=poweroff).
AccelChoice choose_accel(Accel requested, const LaunchOptions& probe_guest,
                         const std::filesystem::path& cache_dir);

}  // namespace vscsim::launcher

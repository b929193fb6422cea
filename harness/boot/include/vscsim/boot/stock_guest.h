// Launch options for the guest this build packs (the pinned Debian kernel and
// the stock initramfs), with the accelerator chosen the usual way (KVM only
// after a successful, cached probe boot). What every VM test starts from.
#pragma once

#include <chrono>
#include <string>

#include "vscsim/launcher/launch_options.h"

namespace vscsim::boot {

launcher::LaunchOptions stock_guest(const std::string& name, std::chrono::milliseconds deadline);

}  // namespace vscsim::boot

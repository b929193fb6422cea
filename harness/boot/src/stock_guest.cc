#include "vscsim/boot/stock_guest.h"

#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"

namespace vscsim::boot {

launcher::LaunchOptions stock_guest(const std::string& name, std::chrono::milliseconds deadline) {
  launcher::LaunchOptions o;
  o.kernel = build_config::kStockKernel;
  o.initrd = build_config::kStockInitramfs;
  o.name = name;
  o.deadline = deadline;
  launcher::LaunchOptions probe = o;
  probe.kernel_args = {"vscsim.then=poweroff"};
  o.accel = launcher::choose_accel(launcher::Accel::Auto, probe, build_config::kCacheDir).accel;
  return o;
}

}  // namespace vscsim::boot

// A guest run as a transient libvirt domain through libvirt's C API, on
// qemu:///system: what a developer's own libvirt setup (virsh, virt-manager)
// sees, with the same machine as the QEMU backend (domain_xml.h).
//
// - libvirtd not running: started here when allowed (root, no systemd:
//   `virtlogd -d` then `libvirtd -d`; with systemd: `systemctl start
//   libvirtd`), else the error says exactly what to run.
// - Files: the run folder (0711) holds copies of the kernel, initramfs and
//   firmware, the console log, the agent socket, the run script and
//   domain.xml, so QEMU, running as libvirt-qemu, reaches them whatever the
//   build folder's permissions; vsp-sim's socket is handed to libvirt-qemu.
// - Guest RAM: a file libvirt creates under its memory_backing_dir
//   (/var/lib/libvirt/qemu/ram/<id>-<name>/); vsp-sim maps it through
//   QEMU's maps (--guest-ram-from-peer), and libvirt removes it.
// - Lifetime: the domain is started with AUTODESTROY, so libvirtd destroys it
//   when this process's connection closes, even if the process is SIGKILLed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "vscsim/launcher/guest.h"
#include "vscsim/launcher/run_dir.h"

namespace vscsim::libvirt {

inline constexpr const char* kSystemUri = "qemu:///system";
// The user Debian's libvirt runs QEMU as (qemu.conf `user`).
inline constexpr const char* kQemuUser = "libvirt-qemu";

class LibvirtGuest final : public launcher::Guest {
 public:
  // Throws launcher::LaunchError saying what failed (libvirtd, a file, the
  // domain XML libvirt refused: the run folder with domain.xml is kept then).
  static std::unique_ptr<LibvirtGuest> launch(const launcher::LaunchOptions& options);
  ~LibvirtGuest() override;

  pid_t pid() const override { return pid_; }
  const launcher::LaunchOptions& options() const override { return options_; }
  const std::filesystem::path& console_log() const override { return console_log_; }
  const std::filesystem::path& agent_socket() const override { return agent_socket_; }
  const std::filesystem::path& run_dir() const override { return run_dir_path_; }
  std::chrono::steady_clock::time_point started_at() const override { return started_at_; }
  std::string describe_launch() const override;
  // The domain XML as given to libvirt (also <run_dir>/domain.xml).
  const std::string& domain_xml() const { return xml_; }
  const std::string& domain_name() const { return options_.name; }

  // QEMU's own lines from libvirt's log of this domain
  // (/var/log/libvirt/qemu/<name>.log, which also holds the command line
  // libvirt built).
  std::string qemu_stderr() const override;
  bool running() override;
  const std::optional<launcher::ExitInfo>& exit_info() const override { return exit_; }
  // Destroys the domain (SIGTERM to QEMU, SIGKILL after libvirt's grace),
  // closes the connection and removes the run folder unless kept.
  launcher::ExitInfo stop(std::chrono::milliseconds grace = std::chrono::seconds(3)) override;
  void keep_run_dir() override {
    if (run_dir_) run_dir_->keep();
  }

 private:
  explicit LibvirtGuest(launcher::LaunchOptions options);
  void start();
  void wait_for_exit(std::chrono::milliseconds timeout) override;
  void watchdog();
  void record_exit(bool destroyed_here);

  launcher::LaunchOptions options_;
  std::unique_ptr<launcher::RunDir> run_dir_;
  std::filesystem::path run_dir_path_;
  std::filesystem::path console_log_;
  std::filesystem::path agent_socket_;
  std::string xml_;
  std::string final_log_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_at_;
  std::optional<launcher::ExitInfo> exit_;
  // libvirt's virConnectPtr and virDomainPtr, kept opaque so users of this
  // header need not see libvirt's.
  struct Handles;
  std::unique_ptr<Handles> handles_;

  std::mutex mu_;  // guards stopping_, deadline_hit_
  std::condition_variable cv_;
  bool stopping_ = false;
  bool deadline_hit_ = false;
  std::thread watchdog_;
};

}  // namespace vscsim::libvirt

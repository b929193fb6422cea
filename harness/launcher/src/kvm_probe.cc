#include "vscsim/launcher/kvm_probe.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <sys/utsname.h>
#include <unistd.h>

#include "vscsim/launcher/qemu_guest.h"
#include "vscsim/launcher/stop_signal.h"

namespace vscsim::launcher {
namespace {

constexpr auto kProbeTimeout = std::chrono::seconds(10);

std::string first_line_of(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    std::array<char, 256> buf{};
    if (std::fgets(buf.data(), buf.size(), p)) out = buf.data();
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string cache_key(const LaunchOptions& guest) {
  utsname u{};
  ::uname(&u);
  return fmt::format("host={} qemu=[{}] kernel={}", u.release,
                     first_line_of(guest.qemu + " --version 2>/dev/null"),
                     guest.kernel.filename().string());
}

// The cache is one line: "<key>\t<kvm|tcg>\t<reason>".
bool read_cache(const std::filesystem::path& file, const std::string& key, AccelChoice& out) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto t1 = line.find('\t');
  const auto t2 = line.find('\t', t1 + 1);
  if (t1 == std::string::npos || t2 == std::string::npos || line.substr(0, t1) != key) return false;
  out.accel = line.substr(t1 + 1, t2 - t1 - 1) == "kvm" ? Accel::Kvm : Accel::Tcg;
  out.reason = line.substr(t2 + 1) + " (cached)";
  out.from_cache = true;
  return true;
}

AccelChoice probe(const LaunchOptions& probe_guest) {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return {Accel::Tcg, "no usable /dev/kvm", false};
  ::close(fd);

  LaunchOptions o = probe_guest;
  o.accel = Accel::Kvm;
  o.deadline = kProbeTimeout + std::chrono::seconds(5);
  o.name = "vscsim-kvm-probe";
  auto guest = QemuGuest::launch(o);
  const auto r = guest->wait_for_console("vscsim-init: ready", kProbeTimeout);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - guest->started_at()).count();
  const std::string qemu_err = guest->qemu_stderr();
  guest->stop(std::chrono::milliseconds(500));
  if (r.status == WaitStatus::Found) return {Accel::Kvm, fmt::format("KVM probe reached init in {:.2f} s", secs), false};
  std::string why = r.status == WaitStatus::TimedOut
                        ? fmt::format("KVM probe did not reach init within {} s", kProbeTimeout.count())
                        : fmt::format("KVM probe {}", to_string(r.status));
  if (!qemu_err.empty()) why += ": " + qemu_err.substr(0, qemu_err.find('\n'));
  return {Accel::Tcg, why + "; using TCG", false};
}

}  // namespace

AccelChoice choose_accel(Accel requested, const LaunchOptions& probe_guest,
                         const std::filesystem::path& cache_dir) {
  if (requested == Accel::Tcg) return {Accel::Tcg, "TCG requested", false};
  if (requested == Accel::Kvm) return {Accel::Kvm, "KVM requested", false};
  const auto file = cache_dir / "accel-probe";
  const std::string key = cache_key(probe_guest);
  AccelChoice choice;
  if (read_cache(file, key, choice)) return choice;
  choice = probe(probe_guest);
  if (stop_requested()) return choice;  // an interrupted probe proves nothing: don't cache it
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  std::ofstream(file) << key << '\t' << to_string(choice.accel) << '\t' << choice.reason << '\n';
  return choice;
}

}  // namespace vscsim::launcher

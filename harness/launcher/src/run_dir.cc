#include "vscsim/launcher/run_dir.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>

namespace vscsim::launcher {
namespace {
constexpr std::string_view kPrefix = "vscsim-run.";

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }
}  // namespace

std::filesystem::path RunDir::default_base() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? std::filesystem::path(tmp) : std::filesystem::path("/tmp");
}

int RunDir::remove_stale(const std::filesystem::path& base) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const auto pid_text = name.substr(kPrefix.size(), name.find('.', kPrefix.size()) - kPrefix.size());
    char* end = nullptr;
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (pid_text.empty() || *end != '\0' || pid <= 0) continue;
    if (process_alive(static_cast<pid_t>(pid))) continue;
    std::error_code rm_ec;
    std::filesystem::remove_all(entry.path(), rm_ec);
    if (!rm_ec) ++removed;
  }
  return removed;
}

RunDir::RunDir(std::filesystem::path base) {
  if (base.empty()) base = default_base();
  remove_stale(base);
  std::string templ = (base / (std::string(kPrefix) + std::to_string(::getpid()) + ".XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "cannot create run folder under " + base.string());
  }
  path_ = templ;
}

RunDir::~RunDir() {
  if (keep_ || path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace vscsim::launcher

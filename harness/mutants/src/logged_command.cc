#include "logged_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <fstream>

namespace vscsim::mutants::detail {

namespace fs = std::filesystem;

Result<int, std::string> run_logged(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log) {
  {
    std::ofstream note(log, std::ios::app);
    note << "$";
    for (const auto& a : argv) note << " " << a;
    note << "\n";
  }
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Err(fmt::format("cannot open {}", log.string()));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return Err("fork failed");
  }
  if (pid == 0) {
    // The child: no inherited make jobserver (vsc-harness may run under make or ctest).
    ::unsetenv("MAKEFLAGS");
    ::unsetenv("MFLAGS");
    ::unsetenv("MAKELEVEL");
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Err("waitpid failed");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return Err(fmt::format("{} ended by signal {}", argv[0], WTERMSIG(status)));
}

std::string tail(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

}  // namespace vscsim::mutants::detail

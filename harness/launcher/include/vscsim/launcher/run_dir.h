// A private folder per guest run for its sockets and logs, removed when the
// run ends. Folders left by a run that was killed (SIGKILL gives no chance to
// clean up) are removed by the next run once their owner process is gone.
#pragma once

#include <filesystem>
#include <sys/types.h>

namespace vscsim::launcher {

class RunDir {
 public:
  // Creates <base>/vscsim-run.<pid>.XXXXXX; base defaults to $TMPDIR or /tmp.
  // Stale folders of dead processes under the same base are removed first.
  explicit RunDir(std::filesystem::path base = {});
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Keep the folder (and say so) instead of removing it, e.g. after a failure.
  void keep() { keep_ = true; }

  static std::filesystem::path default_base();
  // Removes vscsim-run.<pid>.* folders under base whose pid no longer runs.
  // Returns how many were removed.
  static int remove_stale(const std::filesystem::path& base);

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace vscsim::launcher

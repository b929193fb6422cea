#define BOOST_TEST_MODULE run_dir
#include "vscsim/launcher/run_dir.h"

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <unistd.h>

using vscsim::launcher::RunDir;
namespace fs = std::filesystem;

namespace {
struct TempBase {
  fs::path path;
  TempBase() {
    std::string t = (fs::temp_directory_path() / "run_dir_test.XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempBase() { fs::remove_all(path); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(run_folder_is_removed_with_its_contents) {
  TempBase base;
  fs::path kept;
  {
    RunDir dir(base.path);
    kept = dir.path();
    BOOST_TEST(fs::is_directory(kept));
    std::ofstream(kept / "console.log") << "x";
  }
  BOOST_TEST(!fs::exists(kept));
}

BOOST_AUTO_TEST_CASE(kept_run_folder_survives) {
  TempBase base;
  fs::path kept;
  {
    RunDir dir(base.path);
    dir.keep();
    kept = dir.path();
  }
  BOOST_TEST(fs::is_directory(kept));
}

BOOST_AUTO_TEST_CASE(stale_folders_of_dead_processes_are_removed_live_ones_kept) {
  TempBase base;
  // A pid that cannot be running: above the kernel's pid_max limit (4194304).
  const fs::path dead = base.path / "vscsim-run.99999999.abcdef";
  const fs::path live = base.path / ("vscsim-run." + std::to_string(::getpid()) + ".abcdef");
  const fs::path other = base.path / "unrelated.12";
  for (const auto& p : {dead, live, other}) fs::create_directories(p);
  BOOST_TEST(RunDir::remove_stale(base.path) == 1);
  BOOST_TEST(!fs::exists(dead));
  BOOST_TEST(fs::exists(live));
  BOOST_TEST(fs::exists(other));
}

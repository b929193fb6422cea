// Builds a mutant of az_blob at run time, the way CMake builds the driver
// (cmake/GuestKernel.cmake, vscsim_add_kernel_module): the sources copied to
// <out_root>/<name>/src, the patch applied with `patch -p1`, then kbuild with
// W=1 against the guest kernel's headers and vscsim_vmbus's Module.symvers.
// Everything patch and make print goes to <out_root>/<name>/build.log.
#pragma once

#include <filesystem>
#include <vector>
#include <string>

#include "vscsim/mutants/mutant.h"

namespace vscsim::mutants {

struct BuildPaths {
  std::filesystem::path source_dir;        // vsc/az_blob
  std::filesystem::path kernel_build_dir;  // the guest kernel's headers (make -C)
  std::filesystem::path extra_symbols;     // vscsim_vmbus's Module.symvers
  std::vector<std::filesystem::path> include_dirs;  // more -I beyond the copy's include/ (the race gate's)
  std::filesystem::path out_root;          // <build>/mutants
};

struct BuildOutcome {
  bool ok = false;
  std::filesystem::path ko;   // <out_root>/<name>/src/az_blob.ko when ok
  std::filesystem::path log;  // patch's and make's output
  std::string message;        // why not: the failing command and the log's tail
  double seconds = 0;
};

BuildOutcome build_mutant(const BuildPaths& paths, const Mutant& mutant);

}  // namespace vscsim::mutants

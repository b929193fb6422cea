// `vsc-harness mutants`: the static checks and the suite against the
// unmutated driver (both must pass, else nothing else runs), then for each
// mutant: build it, run the static checks on its tree and the suite with
// --keep-going semantics and the mutated az_blob in place of the
// initramfs's, classify.
#pragma once

#include <iosfwd>
#include <vector>

#include "vscsim/mutants/build.h"
#include "vscsim/mutants/mutant.h"
#include "vscsim/mutants/score.h"
#include "vscsim/mutants/static_checks.h"
#include "vscsim/scenario/plan.h"
#include "vscsim/session/suite_run.h"

namespace vscsim::mutants {

inline constexpr const char* kMutatedModule = "az_blob";

struct CampaignOptions {
  scenario::Plan plan;
  session::SuiteConfig suite;  // keep_going is forced on
  BuildPaths build;
  StaticCheckCommands static_checks;
  std::vector<Mutant> mutants;
  std::string command_line;
  // The suite boots the debug kernel: debug-kernel mutants can be caught.
  bool debug_kernel = false;
};

// Progress goes to `log` (one line per phase; the suite's progress line to
// stderr). Stops after the baseline if it did not pass, or when a stop
// signal arrived.
Campaign run_campaign(const CampaignOptions& options, std::ostream& log);

}  // namespace vscsim::mutants

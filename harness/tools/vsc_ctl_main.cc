// vsc-ctl: one command to a running simulator, from another terminal, while
// a guest runs (`vsc-guest --device blob --control S --then shell`):
//
//   vsc-ctl S state                     channels, rings, devices
//   vsc-ctl S rescind 1                 rescind relid 1 now
//   vsc-ctl S fault drop 1 count=1      drop the next completion
//   vsc-ctl S fault delay_ms 1 ms=500   delay completions by 500 ms (until cleared)
//   vsc-ctl S fault-clear               clear every fault rule
//   vsc-ctl S help                      every command the simulator takes
//
// The words after the socket are sent as one line of vsp-sim's text control
// language (vsp_sim/daemon/README.md, vsp_sim/host/README.md#fault-rules);
// the answer is printed. Exit status: 0 the simulator answered "ok", 1 it
// answered "error", 2 bad usage or no simulator on that socket.
#include <iostream>
#include <string>

#include "vscsim/simctl/sim_process.h"

int main(int argc, char** argv) {
  const std::string usage =
      "usage: vsc-ctl CONTROL_SOCKET COMMAND [ARG]...\n"
      "  e.g. vsc-ctl /tmp/vsp.ctl rescind 1\n"
      "       vsc-ctl /tmp/vsp.ctl fault drop 1 count=1\n"
      "       vsc-ctl /tmp/vsp.ctl fault delay_ms 1 ms=500\n"
      "       vsc-ctl /tmp/vsp.ctl help      (every command)\n";
  if (argc < 3) {
    std::cerr << usage;
    return 2;
  }
  const std::string first = argv[1];
  if (first == "-h" || first == "--help") {
    std::cout << usage;
    return 0;
  }
  std::string line;
  for (int i = 2; i < argc; ++i) line += (i > 2 ? " " : "") + std::string(argv[i]);
  auto answer = vscsim::simctl::ask_text(argv[1], line, std::chrono::seconds(10));
  if (!answer.ok()) {
    std::cerr << "vsc-ctl: " << answer.error() << " (is a simulator running there? vsc-guest --control prints it)\n";
    return 2;
  }
  std::cout << *answer << "\n";
  return answer->rfind("ok", 0) == 0 ? 0 : 1;
}

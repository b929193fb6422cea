// vscsim-agent: the guest agent (harness/agent/README.md).
//
//   vscsim-agent [--port-name NAME | --port PATH | --listen SOCKET]
//
// Default: the virtio-serial port named org.vscsim.agent.0. --port serves a
// device or FIFO at PATH; --listen serves one host at a time on a Unix socket
// (running the agent by hand, e.g. on the host). SIGTERM/SIGINT end it,
// killing every process it started.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "router.h"

namespace {

vscsim::agent::Router* g_router = nullptr;

void on_stop_signal(int) {
  if (g_router != nullptr) g_router->stop();
}

int usage() {
  std::fputs("usage: vscsim-agent [--port-name NAME | --port PATH | --listen SOCKET]\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using vscsim::agent::HostPort;
  std::unique_ptr<HostPort> port;
  try {
    if (argc == 1) {
      port = HostPort::virtio("org.vscsim.agent.0");
    } else if (argc == 3 && std::string_view(argv[1]) == "--port-name") {
      port = HostPort::virtio(argv[2]);
    } else if (argc == 3 && std::string_view(argv[1]) == "--port") {
      port = HostPort::device(argv[2]);
    } else if (argc == 3 && std::string_view(argv[1]) == "--listen") {
      port = HostPort::listen(argv[2]);
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vscsim-agent: %s\n", e.what());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Orphans of killed workers come here to be reaped, not to init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const std::string described = port->describe();
  vscsim::agent::Router router(std::move(port), {.reap_all_children = true, .log = {}});
  g_router = &router;
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &stop, nullptr);
  ::sigaction(SIGINT, &stop, nullptr);
  std::fprintf(stderr, "vscsim-agent: pid %d serving %s\n", static_cast<int>(::getpid()), described.c_str());
  router.serve();
  g_router = nullptr;
  return 0;
}

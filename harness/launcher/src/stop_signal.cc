#include "vscsim/launcher/stop_signal.h"

#include <atomic>
#include <csignal>

namespace vscsim::launcher {
namespace {
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "must be async-signal-safe");

extern "C" void on_stop_signal(int signo) {
  if (g_signal.exchange(signo) != 0) {
    std::signal(signo, SIG_DFL);  // second Ctrl-C: let it kill us
    std::raise(signo);
  }
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) sigaction(signo, &sa, nullptr);
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal_number() { return g_signal.load(); }
void request_stop_for_test(int signo) { g_signal.store(signo); }

}  // namespace vscsim::launcher

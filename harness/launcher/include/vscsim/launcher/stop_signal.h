// Ctrl-C and friends: SIGINT, SIGTERM and SIGHUP set a process-wide flag that
// every launcher wait checks, so a run stops its guest and cleans up instead
// of dying with QEMU still running. (A SIGKILLed launcher cannot clean up; its
// QEMU dies through PR_SET_PDEATHSIG and its run folder is removed by the next
// run.)
#pragma once

namespace vscsim::launcher {

// Installs the handlers (idempotent). A second signal while a stop is pending
// restores the default action, so a stuck cleanup can still be interrupted.
void install_stop_handlers();
bool stop_requested();
// The signal that requested the stop (0 if none), for an exit code 128+sig.
int stop_signal_number();
// Test hook: behave as if a signal arrived.
void request_stop_for_test(int signo);

}  // namespace vscsim::launcher

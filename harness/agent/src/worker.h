// A worker: one process of the agent's, named by the host ("main", or a child
// made by Fork or Spawn), connected to the router by a socketpair. Its first
// thread only reads the router's commands and hands each run to the queue of
// the named thread (created on first use), so it never blocks on an
// operation; each thread runs its operations in order and writes its answers
// under one lock.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slots.h"

namespace vscsim::agent {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
};

// A worker process that has just been forked and has not yet said it runs.
struct ForkedWorker {
  pid_t pid = -1;
  UniqueFd channel;  // the router's end
  UniqueFd ready;    // the child writes its start-up errno here (0: running)
};

// Forks a worker named `name` whose slots are `slots` (fds of the calling
// process, inherited under the same numbers) and, with `credentials`, with
// setgroups/setgid/setuid done (and no slots). Safe in a process with other
// threads: the child closes every other fd, touches none of the parent's
// objects and never returns. Returns the errno of fork or socketpair.
[[nodiscard]] int fork_worker(const std::string& name, const std::vector<std::pair<std::string, int>>& slots,
                              const std::optional<Credentials>& credentials, ForkedWorker& out);

// Waits (at most a few seconds) for the child to say it runs, then opens its
// pidfd. Returns 0 or an errno (the child's own, for a failed setuid).
[[nodiscard]] int await_worker(ForkedWorker& worker, UniqueFd& pidfd);

}  // namespace vscsim::agent

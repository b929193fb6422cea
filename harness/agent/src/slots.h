// A process's file descriptors, named by slots (agent.proto: strings local to
// a process). An operation borrows a slot's fd for as long as it runs, so a
// Close from another thread only drops the name: the fd closes when the last
// borrower is done, and its number is never reused under a running operation.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vscsim/transport/unique_fd.h"

namespace vscsim::agent {

using transport::UniqueFd;
using SharedFd = std::shared_ptr<const UniqueFd>;

class SlotTable {
 public:
  // The slot's fd, or nullptr if there is no such slot.
  [[nodiscard]] SharedFd find(const std::string& slot) const;
  // False (and `fd` is closed) if the slot is taken.
  [[nodiscard]] bool add(const std::string& slot, UniqueFd fd);
  [[nodiscard]] bool remove(const std::string& slot);
  // Every slot and its fd number.
  [[nodiscard]] std::vector<std::pair<std::string, int>> snapshot() const;
  // Closes every slot (Spawn: a new process starts with none).
  void clear();

  // Held across fork(2), so the child's copy of the table matches its fds.
  [[nodiscard]] std::unique_lock<std::mutex> lock() const { return std::unique_lock(mu_); }
  [[nodiscard]] std::vector<std::pair<std::string, int>> snapshot_locked() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, SharedFd> slots_;
};

}  // namespace vscsim::agent

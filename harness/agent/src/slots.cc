#include "slots.h"

namespace vscsim::agent {

SharedFd SlotTable::find(const std::string& slot) const {
  std::lock_guard lk(mu_);
  const auto it = slots_.find(slot);
  return it == slots_.end() ? nullptr : it->second;
}

bool SlotTable::add(const std::string& slot, UniqueFd fd) {
  std::lock_guard lk(mu_);
  return slots_.emplace(slot, std::make_shared<const UniqueFd>(std::move(fd))).second;
}

bool SlotTable::remove(const std::string& slot) {
  std::lock_guard lk(mu_);
  return slots_.erase(slot) > 0;
}

std::vector<std::pair<std::string, int>> SlotTable::snapshot() const {
  std::lock_guard lk(mu_);
  return snapshot_locked();
}

std::vector<std::pair<std::string, int>> SlotTable::snapshot_locked() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [name, fd] : slots_) out.emplace_back(name, fd->get());
  return out;
}

void SlotTable::clear() {
  std::lock_guard lk(mu_);
  slots_.clear();
}

}  // namespace vscsim::agent

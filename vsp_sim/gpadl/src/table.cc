#include "vscsim/gpadl/table.h"

#include <fmt/core.h>

#include <ostream>

namespace vscsim::gpadl {

std::string_view state_name(State state) {
  switch (state) {
    case State::kAssembling: return "Assembling";
    case State::kReady: return "Ready";
    case State::kTearingDown: return "TearingDown";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, State state) { return os << state_name(state); }

Result<Progress, Error> Table::on_header(std::span<const std::byte> message,
                                         const memory::MemoryLayout& layout) {
  auto fields = read_header_fields(message);
  if (!fields.ok()) return Err(std::move(fields.error()));
  const std::uint32_t handle = fields->handle;
  if (contains(handle)) {
    return Err(Error{ErrorKind::kHandleInUse, handle,
                     fmt::format("already {}", state_name(entries_.at(handle).state))});
  }
  if (entries_.size() >= limits_.max_gpadls) {
    return Err(Error{ErrorKind::kTableFull, handle,
                     fmt::format("{} GPADLs, cap {}", entries_.size(), limits_.max_gpadls)});
  }
  auto a = Assembler::begin(message, layout, limits_);
  if (!a.ok()) return Err(std::move(a.error()));
  if (a->complete()) {
    entries_.emplace(handle, Entry{State::kReady, a->take()});
    return Progress{handle, true};
  }
  entries_.emplace(handle, Entry{State::kAssembling, std::move(a).value()});
  return Progress{handle, false};
}

Result<Progress, Error> Table::on_body(std::span<const std::byte> message,
                                       const memory::MemoryLayout& layout) {
  auto fields = read_body_fields(message);
  if (!fields.ok()) return Err(std::move(fields.error()));
  const std::uint32_t handle = fields->handle;
  const auto it = entries_.find(handle);
  if (it == entries_.end()) return Err(Error{ErrorKind::kUnknownGpadl, handle, "no such GPADL"});
  if (it->second.state != State::kAssembling) {
    return Err(Error{ErrorKind::kGpadlAlreadyComplete, handle,
                     fmt::format("GPADL is {}", state_name(it->second.state))});
  }
  auto& assembler = std::get<Assembler>(it->second.body);
  auto r = assembler.add_body(message, layout);
  if (!r.ok()) {
    entries_.erase(it);  // half-built GPADLs do not survive an error
    return Err(std::move(r.error()));
  }
  if (!assembler.complete()) return Progress{handle, false};
  it->second.body = assembler.take();
  it->second.state = State::kReady;
  return Progress{handle, true};
}

std::optional<State> Table::state(std::uint32_t handle) const {
  const auto it = entries_.find(handle);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

const Gpadl* Table::find_ready(std::uint32_t handle) const {
  const auto it = entries_.find(handle);
  if (it == entries_.end() || it->second.state != State::kReady) return nullptr;
  return &std::get<Gpadl>(it->second.body);
}

const Gpadl* Table::find_complete(std::uint32_t handle) const {
  const auto it = entries_.find(handle);
  if (it == entries_.end() || it->second.state == State::kAssembling) return nullptr;
  return &std::get<Gpadl>(it->second.body);
}

std::uint32_t Table::use_count(std::uint32_t handle) const {
  const auto it = entries_.find(handle);
  return it == entries_.end() ? 0 : it->second.uses;
}

Result<void, Error> Table::acquire(std::uint32_t handle) {
  const auto it = entries_.find(handle);
  if (it == entries_.end() || it->second.state != State::kReady) {
    return Err(Error{ErrorKind::kUnknownGpadl, handle,
                     it == entries_.end() ? std::string("no such GPADL")
                                          : fmt::format("GPADL is {}",
                                                        state_name(it->second.state))});
  }
  ++it->second.uses;
  return {};
}

bool Table::release(std::uint32_t handle) {
  const auto it = entries_.find(handle);
  if (it == entries_.end() || it->second.uses == 0) return false;
  if (--it->second.uses == 0 && it->second.state == State::kTearingDown) {
    entries_.erase(it);
    return true;
  }
  return false;
}

Result<TeardownOutcome, Error> Table::teardown(std::uint32_t handle) {
  const auto it = entries_.find(handle);
  if (it == entries_.end()) return Err(Error{ErrorKind::kUnknownGpadl, handle, "no such GPADL"});
  switch (it->second.state) {
    case State::kTearingDown:
      return Err(Error{ErrorKind::kAlreadyTearingDown, handle, "teardown already pending"});
    case State::kAssembling:
      entries_.erase(it);
      return TeardownOutcome::kDone;
    case State::kReady:
      if (it->second.uses > 0) {
        it->second.state = State::kTearingDown;
        return TeardownOutcome::kDeferred;
      }
      entries_.erase(it);
      return TeardownOutcome::kDone;
  }
  return Err(Error{ErrorKind::kUnknownGpadl, handle, "bad state"});
}

std::size_t Table::clear() {
  const std::size_t n = entries_.size();
  entries_.clear();
  return n;
}

}  // namespace vscsim::gpadl

// The GPADLs of one channel, by handle, with their lifecycle.
//
// Entry states (every transition not listed is rejected with an Error):
//
//   state        | meaning
//   -------------+-------------------------------------------------------------
//   kAssembling  | header seen, bodies still owed; not usable by anything
//   kReady       | complete and validated; usable (a ring, a buffer)
//   kTearingDown | the guest asked for teardown while the GPADL was in use
//                | (acquired, e.g. as the ring of an open channel); GPADL_TORNDOWN
//                | is owed once the last user releases it
//
//   event               | from                  | to
//   --------------------+-----------------------+---------------------------------
//   on_header           | (absent)              | kAssembling, or kReady if complete
//   on_body             | kAssembling           | kAssembling or kReady
//   assembly error      | kAssembling           | (removed)
//   acquire             | kReady                | kReady (use count + 1)
//   release             | kReady                | kReady (use count - 1)
//   release (last user) | kTearingDown          | (removed): teardown completes
//   teardown, unused    | kReady or kAssembling | (removed): teardown completes
//   teardown, in use    | kReady                | kTearingDown: teardown deferred
//   discard / clear     | any                   | (removed), no message owed
//
// A table is owned by one channel and driven by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "vscsim/base/result.h"
#include "vscsim/gpadl/gpadl.h"
#include "vscsim/memory/layout.h"

namespace vscsim::gpadl {

enum class State { kAssembling, kReady, kTearingDown };
[[nodiscard]] std::string_view state_name(State state);
std::ostream& operator<<(std::ostream& os, State state);

// Where a GPADL stands after a header or body message.
struct Progress {
  std::uint32_t handle;
  bool complete;  // true: the GPADL is kReady now (the host owes GPADL_CREATED)
};

enum class TeardownOutcome {
  kDone,      // removed now: the host owes GPADL_TORNDOWN now
  kDeferred,  // in use: GPADL_TORNDOWN is owed when release() removes it
};

class Table {
 public:
  explicit Table(Limits limits = {}) : limits_(limits) {}

  // A GPADL_HEADER message (whole message, in host memory). Fails without
  // changing the table (kHandleInUse, kTableFull, or any validation error).
  Result<Progress, Error> on_header(std::span<const std::byte> message,
                                    const memory::MemoryLayout& layout);
  // A GPADL_BODY message. kUnknownGpadl / kGpadlAlreadyComplete leave the
  // table unchanged; any other error discards the half-built GPADL (the guest
  // is told it failed and may reuse the handle).
  Result<Progress, Error> on_body(std::span<const std::byte> message,
                                  const memory::MemoryLayout& layout);

  [[nodiscard]] bool contains(std::uint32_t handle) const { return entries_.count(handle) != 0; }
  [[nodiscard]] std::optional<State> state(std::uint32_t handle) const;
  // The GPADL if it is kReady, else nullptr. Valid until the table changes.
  [[nodiscard]] const Gpadl* find_ready(std::uint32_t handle) const;
  // The GPADL if it is complete (kReady or kTearingDown): what a user that
  // acquired it before a teardown still sees. Else nullptr.
  [[nodiscard]] const Gpadl* find_complete(std::uint32_t handle) const;
  [[nodiscard]] std::uint32_t use_count(std::uint32_t handle) const;

  // Marks a kReady GPADL in use (kUnknownGpadl if absent or not ready).
  Result<void, Error> acquire(std::uint32_t handle);
  // Drops one use. Returns true when that completed a deferred teardown (the
  // entry is gone and GPADL_TORNDOWN is owed now).
  bool release(std::uint32_t handle);

  Result<TeardownOutcome, Error> teardown(std::uint32_t handle);

  // Removes one entry whatever its state (an injected creation failure).
  bool discard(std::uint32_t handle) { return entries_.erase(handle) != 0; }
  // Removes everything (channel released, connection unloaded); returns how many.
  std::size_t clear();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    State state;
    std::variant<Assembler, Gpadl> body;
    std::uint32_t uses = 0;
  };
  Limits limits_;
  std::map<std::uint32_t, Entry> entries_;
};

}  // namespace vscsim::gpadl

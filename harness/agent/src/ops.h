// The operations a worker runs on its own (agent.proto's Op), given the
// process's slots: Open, Close, Dup, Ioctl, BlobCall, WriteFile, ReadFile,
// LoadModule, UnloadModule, Sleep, Kill and MemoryPressure. Fork, Spawn, PassFd and Exit
// involve the router and the process itself and live in worker.cc.
//
// None of them trusts the message: lengths are capped before anything is
// allocated, and addresses the host supplies go to the kernel untouched,
// never dereferenced here.
#pragma once

#include <cstdint>
#include <string>

#include "slots.h"
#include "vscsim/agent.pb.h"

namespace vscsim::agent {

// Guest CLOCK_MONOTONIC in nanoseconds (OpResult.start_ns/end_ns).
[[nodiscard]] std::uint64_t monotonic_ns();
// "ENODEV" for ENODEV, "" for 0, "errno N" for a number glibc has no name for.
[[nodiscard]] std::string errno_name(int err);
// Sets err, errno_name and (if not empty) detail.
void set_errno(OpResult& result, int err, const std::string& detail = {});

// The most bytes a ReadFile returns: what leaves room in one frame for the rest of the answer.
inline constexpr std::uint32_t kMaxReadBytes = (16u << 20) - (64u << 10);
inline constexpr std::uint32_t kDefaultReadBytes = 64u << 10;

// Runs `op` (one of the kinds above) and fills `result` (but not its
// process, thread or times). `pidfd` is a Kill's target, found by the router.
void run_local_op(const Op& op, SlotTable& slots, UniqueFd pidfd, OpResult& result);

}  // namespace vscsim::agent

// `azblob bench`: the same blob operation, timed, through the az_blob driver
// (VMBus) or through plain HTTP to the same store (vsp-sim --http-listen), so
// the two paths can be compared in one guest (docs/DESIGN.md section 8).
//
//   azblob bench --transport vmbus|http [--device PATH] [--http HOST:PORT]
//                --op put|get --size BYTES --threads N (--seconds S | --count N)
//                [--container NAME] [--timeout MS]
//
// Each thread has its own path to the store: its own open device (vmbus) or
// its own keep-alive HTTP/1.1 connection (http). Before the clock starts
// (untimed) the container is created if missing and, for get, each thread
// puts its own blob of --size bytes. A put writes the thread's own blob
// (bench-<op>-t<thread>) again each time. The bytes are a deterministic
// pattern of the thread's; every get is compared with it byte for byte, and
// a mismatch is an error. --count is the total over all threads; --seconds
// runs every thread until then (an operation begun in time completes).
//
// Output: one JSON object on one line on stdout,
//   {"transport":"vmbus","op":"get","size":4096,"threads":2,"ops":..,"errors":..,
//    "seconds":..,"ops_per_s":..,"mib_per_s":..,"p50_us":..,"p99_us":..,"max_us":..}
// ops counts every timed operation, failed ones included; latencies are each
// operation's, by the monotonic clock; percentiles are nearest-rank. Each
// failure is a line on stderr naming the operation, the thread and errno or
// the HTTP status (the first 5 per thread, then a count). Exit 0 only when
// errors is 0; 1 when any operation failed or the set-up did (then without
// JSON); 2 for bad usage (the CLI's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "vscsim/azblob/device.h"

namespace vscsim::azblob {

enum class BenchTransport { kVmbus, kHttp };
enum class BenchOp { kPut, kGet };

struct BenchOptions {
  BenchTransport transport = BenchTransport::kVmbus;
  std::string device_path = kDefaultDevicePath;
  std::string http;  // HOST:PORT, for kHttp
  BenchOp op = BenchOp::kPut;
  std::uint64_t size = 0;
  unsigned threads = 1;
  std::optional<double> seconds;       // exactly one of seconds and count
  std::optional<std::uint64_t> count;
  std::string container = "bench";
  std::chrono::milliseconds timeout{30000};  // per operation
};

inline constexpr unsigned kMaxBenchThreads = 256;
// An HTTP body is at most this (the simulator's HTTP server's default limit).
inline constexpr std::uint64_t kMaxHttpBenchSize = std::uint64_t{64} << 20;

struct BenchReport {
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  std::vector<std::uint64_t> latencies_ns;  // sorted
};

// The JSON line (without its newline) for a run of `options` that measured `report`.
[[nodiscard]] std::string bench_json(const BenchOptions& options, const BenchReport& report);

// The nearest-rank `percent` percentile of sorted latencies (0 if none).
[[nodiscard]] std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double percent);

// Runs the benchmark, printing the JSON line to `out` and failures to `err`.
// `open_device` opens one device per thread (vmbus). Returns the exit status.
[[nodiscard]] int run_bench(const BenchOptions& options,
                            const std::function<Result<Device>(const std::string&)>& open_device,
                            std::ostream& out, std::ostream& err);

}  // namespace vscsim::azblob

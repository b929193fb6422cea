// What the benchmarks measure and how they summarise it: a process's CPU time
// and memory from /proc, medians, the guest's `azblob bench` result line, and
// the command line that asks the guest for one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::bench {

// A process's CPU time (user + system, all threads) and its memory, read
// from /proc/<pid>/stat and /proc/<pid>/status.
struct ProcSample {
  double cpu_seconds = 0;
  std::uint64_t rss_kib = 0;        // VmRSS
  std::uint64_t rss_anon_kib = 0;   // RssAnon: the process's own heap and stacks
  std::uint64_t rss_shmem_kib = 0;  // RssShmem: shared pages touched (for vsp-sim: guest RAM)
};
Result<ProcSample, std::string> sample_process(pid_t pid);
// The same from the two files' text (for tests): `stat` is /proc/<pid>/stat,
// `status` /proc/<pid>/status, `ticks_per_second` sysconf(_SC_CLK_TCK).
Result<ProcSample, std::string> parse_proc(std::string_view stat, std::string_view status, long ticks_per_second);

struct Spread {
  double median = 0, min = 0, max = 0;
};
// Median (the mean of the middle two for an even count), min and max; all 0
// for no values.
Spread spread(std::vector<double> values);

enum class Transport { kVmbus, kHttp };
std::string_view to_string(Transport t);

// One `azblob bench` run in the guest.
struct GuestCase {
  Transport transport = Transport::kVmbus;
  std::string op;  // "get" or "put"
  std::uint64_t size = 0;
  unsigned threads = 1;
  double seconds = 3;
  std::string http_endpoint;  // HOST:PORT as the guest reaches it (transport http)
  std::string container = "bench";
};
// The guest command line for `c`, azblob being at `azblob_path`.
std::vector<std::string> azblob_bench_argv(const GuestCase& c, const std::string& azblob_path);

// What `azblob bench` printed: one JSON object on one line.
struct GuestResult {
  std::string transport, op;
  std::uint64_t size = 0;
  unsigned threads = 0;
  std::uint64_t ops = 0, errors = 0;
  double seconds = 0, ops_per_s = 0, mib_per_s = 0, p50_us = 0, p99_us = 0, max_us = 0;
};
// Parses the last non-empty line of `output`; the error names the missing or
// mistyped field.
Result<GuestResult, std::string> parse_guest_result(std::string_view output);

}  // namespace vscsim::bench

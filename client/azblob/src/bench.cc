#include "vscsim/azblob/bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <latch>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <thread>
#include <utility>

#include "vscsim/azblob/cli.h"
#include "vscsim/azblob/client.h"
#include "vscsim/azblob/http_client.h"
#include "vscsim/blob.pb.h"

namespace vscsim::azblob {
namespace {

using Clock = std::chrono::steady_clock;

// Failures printed per thread before they are only counted; a thread stops
// after kGiveUp failures (a dead server or device would otherwise fill the
// whole --seconds with them).
constexpr std::uint64_t kShownFailures = 5;
constexpr std::uint64_t kGiveUp = 100;

// One thread's way to the store.
class StorePath {
 public:
  virtual ~StorePath() = default;
  // Creates the container; one that exists already is fine.
  virtual Result<void> ensure_container(const std::string& container) = 0;
  virtual Result<void> put(const std::string& container, const std::string& blob,
                           std::span<const std::byte> bytes) = 0;
  virtual Result<std::vector<std::byte>> get(const std::string& container, const std::string& blob,
                                             std::uint64_t size) = 0;
};

class VmbusPath final : public StorePath {
 public:
  VmbusPath(Device device, std::chrono::milliseconds timeout)
      : client_(std::move(device), ClientOptions{.timeout = timeout}) {}
  Result<void> ensure_container(const std::string& container) override {
    auto made = client_.create_container(container);
    if (!made && !(made.error().kind == ErrorKind::kStatus && made.error().status == blob::ALREADY_EXISTS)) {
      return made;
    }
    return Ok<Error>();
  }
  Result<void> put(const std::string& container, const std::string& blob, std::span<const std::byte> bytes) override {
    auto done = client_.put(container, blob, bytes);
    if (!done) return Err(std::move(done).error());
    return Ok<Error>();
  }
  Result<std::vector<std::byte>> get(const std::string& container, const std::string& blob,
                                     std::uint64_t size) override {
    // The length is given, so one request reads it (no stat first), as one
    // HTTP GET does.
    auto got = client_.get(container, blob, 0, size);
    if (!got) return Err(std::move(got).error());
    return std::move(got->bytes);
  }

 private:
  Client client_;
};

class HttpPath final : public StorePath {
 public:
  explicit HttpPath(HttpConnection connection) : connection_(std::move(connection)) {}
  Result<void> ensure_container(const std::string& container) override {
    return connection_.create_container(container, /*exists_ok=*/true);
  }
  Result<void> put(const std::string& container, const std::string& blob, std::span<const std::byte> bytes) override {
    auto done = connection_.put(container, blob, bytes);
    if (!done) return Err(std::move(done).error());
    return Ok<Error>();
  }
  Result<std::vector<std::byte>> get(const std::string& container, const std::string& blob, std::uint64_t) override {
    return connection_.get(container, blob);
  }

 private:
  HttpConnection connection_;
};

// The thread's bytes: xorshift64 from a seed of the thread's, so every
// thread's blob differs from every other's and a shifted copy shows.
std::vector<std::byte> pattern_of(unsigned thread, std::uint64_t size) {
  std::vector<std::byte> bytes(size);
  std::uint64_t x = 0x9E3779B97F4A7C15ull * (thread + 1);
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(bytes.data() + i, &x, std::min<std::size_t>(8, bytes.size() - i));
  }
  return bytes;
}

// Why `got` is not `want`, or empty if it is.
std::string mismatch(const std::vector<std::byte>& got, const std::vector<std::byte>& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " bytes came back, " + std::to_string(want.size()) + " expected";
  }
  if (got.empty() || std::memcmp(got.data(), want.data(), got.size()) == 0) return {};
  std::size_t first = 0;
  while (got[first] == want[first]) ++first;
  const auto differ = std::inner_product(got.begin(), got.end(), want.begin(), std::size_t{0}, std::plus<>(),
                                         [](std::byte a, std::byte b) { return std::size_t{a != b}; });
  return std::to_string(differ) + " of " + std::to_string(got.size()) +
         " bytes differ from the pattern written (the first at offset " + std::to_string(first) + ")";
}

std::string blob_name(const BenchOptions& options, unsigned thread) {
  return std::string("bench-") + (options.op == BenchOp::kPut ? "put" : "get") + "-t" + std::to_string(thread);
}

struct ThreadRun {
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  std::vector<std::uint64_t> latencies_ns;
};

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, std::isfinite(value) ? value : 0.0);
  return text;
}

}  // namespace

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double percent) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string bench_json(const BenchOptions& options, const BenchReport& report) {
  const double per_second = report.seconds > 0 ? 1.0 / report.seconds : 0.0;
  const double ops_per_s = static_cast<double>(report.ops) * per_second;
  const double mib_per_s = ops_per_s * static_cast<double>(options.size) / (1024.0 * 1024.0);
  const auto us = [&](double percent) { return fixed(static_cast<double>(percentile(report.latencies_ns, percent)) / 1000.0, 3); };
  const std::uint64_t max_ns = report.latencies_ns.empty() ? 0 : report.latencies_ns.back();
  return std::string("{\"transport\":\"") + (options.transport == BenchTransport::kVmbus ? "vmbus" : "http") +
         "\",\"op\":\"" + (options.op == BenchOp::kPut ? "put" : "get") + "\",\"size\":" +
         std::to_string(options.size) + ",\"threads\":" + std::to_string(options.threads) +
         ",\"ops\":" + std::to_string(report.ops) + ",\"errors\":" + std::to_string(report.errors) +
         ",\"seconds\":" + fixed(report.seconds, 6) + ",\"ops_per_s\":" + fixed(ops_per_s, 1) +
         ",\"mib_per_s\":" + fixed(mib_per_s, 3) + ",\"p50_us\":" + us(50) + ",\"p99_us\":" + us(99) +
         ",\"max_us\":" + fixed(static_cast<double>(max_ns) / 1000.0, 3) + "}";
}

int run_bench(const BenchOptions& options, const std::function<Result<Device>(const std::string&)>& open_device,
              std::ostream& out, std::ostream& err) {
  const auto usage = [&](const std::string& why) {
    err << "azblob: bench: " << why << '\n';
    return kExitUsage;
  };
  if (options.threads == 0 || options.threads > kMaxBenchThreads) {
    return usage("--threads must be 1 to " + std::to_string(kMaxBenchThreads));
  }
  if (options.seconds.has_value() == options.count.has_value()) return usage("give one of --seconds and --count");
  if (options.seconds && !(*options.seconds > 0 && *options.seconds <= 86400)) {
    return usage("--seconds must be more than 0 and at most 86400");
  }
  if (options.count && *options.count == 0) return usage("--count must be at least 1");
  const std::uint64_t limit = options.transport == BenchTransport::kHttp
                                  ? kMaxHttpBenchSize
                                  : max_data_bytes(ClientOptions{}.response_capacity);
  if (options.size > limit) {
    return usage("--size " + std::to_string(options.size) + " is more than one " +
                 (options.transport == BenchTransport::kHttp ? "HTTP body" : "driver request") + " carries (" +
                 std::to_string(limit) + " bytes)");
  }
  std::optional<HttpEndpoint> endpoint;
  if (options.transport == BenchTransport::kHttp) {
    auto parsed = parse_http_endpoint(options.http);
    if (!parsed) return usage("--http " + parsed.error().message);
    endpoint = std::move(parsed).value();
  }

  // Set-up, untimed: a path per thread, the container, the blobs to get.
  const auto setup_failed = [&](unsigned thread, const Error& e) {
    err << "azblob: bench: set-up of thread " << thread << ": " << e.message << '\n';
    return kExitFailed;
  };
  std::vector<std::unique_ptr<StorePath>> paths;
  std::vector<std::vector<std::byte>> patterns;
  for (unsigned t = 0; t < options.threads; ++t) {
    if (endpoint) {
      auto connection = HttpConnection::connect(*endpoint, options.timeout);
      if (!connection) return setup_failed(t, connection.error());
      paths.push_back(std::make_unique<HttpPath>(std::move(connection).value()));
    } else {
      auto device = open_device(options.device_path);
      if (!device) return setup_failed(t, device.error());
      paths.push_back(std::make_unique<VmbusPath>(std::move(device).value(), options.timeout));
    }
    patterns.push_back(pattern_of(t, options.size));
    if (t == 0) {
      if (auto made = paths[0]->ensure_container(options.container); !made) return setup_failed(t, made.error());
    }
    if (options.op == BenchOp::kGet) {
      if (auto put = paths[t]->put(options.container, blob_name(options, t), patterns[t]); !put) {
        return setup_failed(t, put.error());
      }
    }
  }

  std::mutex err_mutex;
  const auto report_failure = [&](unsigned thread, std::uint64_t op, const std::string& message) {
    std::lock_guard lock(err_mutex);
    err << "azblob: bench: thread " << thread << ", operation " << op << ": " << message << '\n';
  };
  std::vector<ThreadRun> runs(options.threads);
  std::latch ready(options.threads);
  std::latch go(1);
  Clock::time_point deadline{};
  const auto work = [&](unsigned t) {
    ThreadRun& run = runs[t];
    StorePath& path = *paths[t];
    const std::vector<std::byte>& pattern = patterns[t];
    const std::string blob = blob_name(options, t);
    std::uint64_t quota = UINT64_MAX;
    if (options.count) {
      quota = *options.count / options.threads + (t < *options.count % options.threads ? 1 : 0);
      run.latencies_ns.reserve(quota);
    }
    ready.count_down();
    go.wait();
    while (run.ops < quota && run.errors < kGiveUp) {
      const auto start = Clock::now();
      if (options.seconds && start >= deadline) break;
      std::string failure;
      std::optional<Result<std::vector<std::byte>>> got;
      if (options.op == BenchOp::kPut) {
        auto done = path.put(options.container, blob, pattern);
        if (!done) failure = done.error().message;
      } else {
        got.emplace(path.get(options.container, blob, options.size));
      }
      run.latencies_ns.push_back(static_cast<std::uint64_t>((Clock::now() - start).count()));
      if (got) {
        // Checked after the clock stops (the comparison is the benchmark's
        // work, not the store's), but never skipped.
        if (!*got) {
          failure = got->error().message;
        } else if (std::string why = mismatch(got->value(), pattern); !why.empty()) {
          failure = "get " + options.container + "/" + blob + ": " + why;
        }
      }
      ++run.ops;
      if (!failure.empty()) {
        ++run.errors;
        if (run.errors <= kShownFailures) report_failure(t, run.ops, failure);
      }
    }
    if (run.errors > kShownFailures) {
      report_failure(t, run.ops, std::to_string(run.errors - kShownFailures) + " more failures not shown" +
                                     (run.errors >= kGiveUp ? "; the thread gave up after " +
                                                                  std::to_string(kGiveUp) + " failures"
                                                            : std::string()));
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(options.threads);
  for (unsigned t = 0; t < options.threads; ++t) threads.emplace_back(work, t);
  ready.wait();
  const auto started = Clock::now();
  if (options.seconds) {
    deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*options.seconds));
  }
  go.count_down();  // publishes `deadline` to the threads
  for (auto& thread : threads) thread.join();
  const auto ended = Clock::now();

  BenchReport report;
  report.seconds = std::chrono::duration<double>(ended - started).count();
  for (ThreadRun& run : runs) {
    report.ops += run.ops;
    report.errors += run.errors;
    report.latencies_ns.insert(report.latencies_ns.end(), run.latencies_ns.begin(), run.latencies_ns.end());
  }
  std::sort(report.latencies_ns.begin(), report.latencies_ns.end());
  out << bench_json(options, report) << '\n';
  out.flush();
  return report.errors == 0 ? kExitOk : kExitFailed;
}

}  // namespace vscsim::azblob

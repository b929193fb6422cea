#include "vscsim/bench/measure.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vscsim::bench {

namespace {

Result<std::string, std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Key:   1234 kB" in /proc/<pid>/status; 0 if the key is absent (RssAnon
// and RssShmem exist since Linux 4.5).
std::uint64_t status_kib(std::string_view status, std::string_view key) {
  const std::string needle = std::string("\n") + std::string(key) + ":";
  std::size_t at = std::string("\n").append(status).find(needle);
  if (at == std::string::npos) return 0;
  std::string_view rest = status.substr(at + needle.size() - 1);
  rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
  std::uint64_t v = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), v);
  return v;
}

}  // namespace

Result<ProcSample, std::string> parse_proc(std::string_view stat, std::string_view status, long ticks_per_second) {
  // The command name (field 2) is in parentheses and may hold spaces: fields
  // are counted from the last ')'. utime and stime are fields 14 and 15.
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return Err(std::string("no ')' in /proc/<pid>/stat"));
  std::istringstream fields{std::string(stat.substr(close + 1))};
  std::string f;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  if (!fields) return Err(std::string("/proc/<pid>/stat has fewer than 15 fields"));
  ProcSample s;
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second);
  s.rss_kib = status_kib(status, "VmRSS");
  s.rss_anon_kib = status_kib(status, "RssAnon");
  s.rss_shmem_kib = status_kib(status, "RssShmem");
  return s;
}

Result<ProcSample, std::string> sample_process(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/";
  auto stat = slurp(dir + "stat");
  if (!stat.ok()) return Err(stat.error());
  auto status = slurp(dir + "status");
  if (!status.ok()) return Err(status.error());
  return parse_proc(*stat, *status, ::sysconf(_SC_CLK_TCK));
}

Spread spread(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {median, v.front(), v.back()};
}

std::string_view to_string(Transport t) { return t == Transport::kVmbus ? "vmbus" : "http"; }

std::vector<std::string> azblob_bench_argv(const GuestCase& c, const std::string& azblob_path) {
  std::vector<std::string> argv = {azblob_path, "bench", "--transport", std::string(to_string(c.transport)),
                                   "--op", c.op, "--size", std::to_string(c.size),
                                   "--threads", std::to_string(c.threads),
                                   "--seconds", fmt::format("{}", c.seconds), "--container", c.container};
  if (c.transport == Transport::kHttp) {
    argv.push_back("--http");
    argv.push_back(c.http_endpoint);
  }
  return argv;
}

Result<GuestResult, std::string> parse_guest_result(std::string_view output) {
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.remove_suffix(1);
  const std::size_t nl = output.rfind('\n');
  const std::string_view line = nl == std::string_view::npos ? output : output.substr(nl + 1);
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Err(fmt::format("not a JSON object: '{}'", line));
  GuestResult r;
  try {
    r.transport = j.at("transport").get<std::string>();
    r.op = j.at("op").get<std::string>();
    r.size = j.at("size").get<std::uint64_t>();
    r.threads = j.at("threads").get<unsigned>();
    r.ops = j.at("ops").get<std::uint64_t>();
    r.errors = j.at("errors").get<std::uint64_t>();
    r.seconds = j.at("seconds").get<double>();
    r.ops_per_s = j.at("ops_per_s").get<double>();
    r.mib_per_s = j.at("mib_per_s").get<double>();
    r.p50_us = j.at("p50_us").get<double>();
    r.p99_us = j.at("p99_us").get<double>();
    r.max_us = j.at("max_us").get<double>();
  } catch (const nlohmann::json::exception& e) {
    return Err(fmt::format("azblob bench output '{}': {}", line, e.what()));
  }
  return r;
}

}  // namespace vscsim::bench

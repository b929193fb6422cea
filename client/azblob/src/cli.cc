#include "vscsim/azblob/cli.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "vscsim/azblob/bench.h"
#include "vscsim/azblob/client.h"

namespace vscsim::azblob {
namespace {

struct BlobPath {
  std::string container;
  std::string blob;
};

// CONTAINER/BLOB: the container ends at the first '/'; the blob may hold more.
std::optional<BlobPath> split_blob_path(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  return BlobPath{text.substr(0, slash), text.substr(slash + 1)};
}

const CLI::Validator kBlobPath(
    [](std::string& text) {
      return split_blob_path(text) ? std::string() : "expected CONTAINER/BLOB, got '" + text + "'";
    },
    "CONTAINER/BLOB");

int fail(CliStreams& io, const std::string& message) {
  io.err << "azblob: " << message << '\n';
  return kExitFailed;
}

// Reads FILE, or standard input for "-".
std::optional<std::string> read_input(CliStreams& io, const std::string& file, std::string& why) {
  std::ifstream stream;
  std::istream* in = &io.in;
  if (file != "-") {
    stream.open(file, std::ios::binary);
    if (!stream) {
      why = "cannot read " + file + ": " + std::strerror(errno);
      return std::nullopt;
    }
    in = &stream;
  }
  std::string data{std::istreambuf_iterator<char>(*in), std::istreambuf_iterator<char>()};
  if (in->bad()) {
    why = "cannot read " + (file == "-" ? std::string("standard input") : file);
    return std::nullopt;
  }
  return data;
}

bool write_output(CliStreams& io, const std::string& file, const std::vector<std::byte>& bytes, std::string& why) {
  std::ofstream stream;
  std::ostream* out = &io.out;
  if (file != "-") {
    stream.open(file, std::ios::binary | std::ios::trunc);
    if (!stream) {
      why = "cannot write " + file + ": " + std::strerror(errno);
      return false;
    }
    out = &stream;
  }
  out->write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out->flush();
  if (!*out) {
    why = "cannot write " + (file == "-" ? std::string("standard output") : file);
    return false;
  }
  return true;
}

}  // namespace

int run_cli(int argc, const char* const* argv, CliStreams io, const DeviceOpener& open_device) {
  CLI::App app{"Talk to the Azure Blob store through the az_blob driver (/dev/azure_blob).\n"
               "Exit status: 0 done, 1 the operation failed (the reason is on stderr), 2 bad usage."};
  app.name("azblob");
  app.require_subcommand(1);
  std::string device_path = kDefaultDevicePath;
  std::uint32_t timeout_ms = 30000;
  app.add_option("--device", device_path, "The az_blob device")->capture_default_str();
  app.add_option("--timeout", timeout_ms, "Milliseconds each request may take; 0: the driver's default")
      ->check(CLI::Range(std::uint32_t{0}, std::uint32_t{AZ_BLOB_MAX_TIMEOUT_MS}))
      ->capture_default_str();

  std::string target, file = "-", container, prefix;
  std::uint64_t offset = 0, length = 0;

  auto* put = app.add_subcommand("put", "Store FILE (- for standard input) as the blob, replacing it");
  put->add_option("target", target, "CONTAINER/BLOB")->required()->check(kBlobPath);
  put->add_option("file", file, "FILE or -")->required();

  auto* get = app.add_subcommand("get", "Write the blob (or a range of it) to FILE, default standard output");
  get->add_option("target", target, "CONTAINER/BLOB")->required()->check(kBlobPath);
  get->add_option("file", file, "FILE or -");
  get->add_option("--offset", offset, "First byte to read");
  auto* length_option = get->add_option("--length", length, "Bytes to read (default: to the end)");

  auto* ls = app.add_subcommand("ls", "List the containers, or the blobs of CONTAINER: '<size>\\t<name>' lines "
                                      "(for containers, the blob count)");
  ls->add_option("container", container, "CONTAINER");
  ls->add_option("--prefix", prefix, "Only names that start with P");

  auto* rm = app.add_subcommand("rm", "Delete the blob");
  rm->add_option("target", target, "CONTAINER/BLOB")->required()->check(kBlobPath);
  auto* stat = app.add_subcommand("stat", "Print the blob's size and generation");
  stat->add_option("target", target, "CONTAINER/BLOB")->required()->check(kBlobPath);
  auto* mkc = app.add_subcommand("mkc", "Create a container");
  mkc->add_option("container", container, "CONTAINER")->required();
  auto* rmc = app.add_subcommand("rmc", "Delete an empty container");
  rmc->add_option("container", container, "CONTAINER")->required();

  auto* limits = app.add_subcommand("limits", "Print the largest blob one put can carry (the driver's page cap "
                                              "less the request and response buffers); needs no device");

  BenchOptions bench_options;
  std::string bench_transport, bench_op;
  double bench_seconds = 0;
  std::uint64_t bench_count = 0;
  auto* bench = app.add_subcommand(
      "bench", "Time one blob operation through the driver (vmbus) or over HTTP to the same store (http; "
               "vsp-sim --http-listen) and print one JSON line: ops, errors, ops/s, MiB/s, p50/p99/max latency");
  bench->add_option("--transport", bench_transport, "vmbus (the az_blob driver) or http (plain HTTP/1.1)")
      ->required()
      ->check(CLI::IsMember({"vmbus", "http"}));
  auto* bench_device = bench->add_option("--device", device_path, "The az_blob device (vmbus; one open per thread)");
  auto* bench_http = bench->add_option("--http", bench_options.http,
                                       "HOST:PORT of the blob HTTP server (http; a numeric address, e.g. "
                                       "10.0.2.2:PORT from a QEMU user-networking guest)");
  bench->add_option("--op", bench_op, "put or get")->required()->check(CLI::IsMember({"put", "get"}));
  bench->add_option("--size", bench_options.size, "Bytes per blob")->required();
  bench->add_option("--threads", bench_options.threads, "Threads, each with its own device or connection")
      ->required()
      ->check(CLI::Range(1u, kMaxBenchThreads));
  auto* seconds_option =
      bench->add_option("--seconds", bench_seconds, "Run for this long (a fraction is fine)")->check(CLI::PositiveNumber);
  auto* count_option =
      bench->add_option("--count", bench_count, "Run this many operations, over all threads")->check(CLI::PositiveNumber);
  seconds_option->excludes(count_option);
  bench->add_option("--container", bench_options.container, "The container the blobs go in (created if missing)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError of exit code 0; everything else is bad usage.
    return app.exit(e, io.out, io.err) == 0 ? kExitOk : kExitUsage;
  }

  if (limits->parsed()) {
    const ClientOptions defaults;
    io.out << "max-put-bytes " << azblob::max_data_bytes(defaults.response_capacity) << "\nmax-pages " << kMaxPages
           << "\nresponse-capacity " << defaults.response_capacity << '\n';
    return kExitOk;
  }

  if (bench->parsed()) {
    const auto usage = [&](const std::string& why) {
      io.err << "azblob: bench: " << why << '\n';
      return kExitUsage;
    };
    const bool http = bench_transport == "http";
    if (http && bench_http->count() == 0) return usage("--transport http needs --http HOST:PORT");
    if (!http && bench_http->count() > 0) return usage("--http goes with --transport http");
    if (http && bench_device->count() > 0) return usage("--device goes with --transport vmbus");
    if (seconds_option->count() == 0 && count_option->count() == 0) return usage("give --seconds or --count");
    bench_options.transport = http ? BenchTransport::kHttp : BenchTransport::kVmbus;
    bench_options.op = bench_op == "get" ? BenchOp::kGet : BenchOp::kPut;
    bench_options.device_path = device_path;
    bench_options.timeout = std::chrono::milliseconds(timeout_ms);
    if (seconds_option->count() > 0) bench_options.seconds = bench_seconds;
    if (count_option->count() > 0) bench_options.count = bench_count;
    return run_bench(bench_options, open_device, io.out, io.err);
  }

  auto device = open_device(device_path);
  if (!device) return fail(io, device.error().message);
  Client client(std::move(device).value(), ClientOptions{.timeout = std::chrono::milliseconds(timeout_ms)});
  BlobPath path = split_blob_path(target).value_or(BlobPath{});
  std::string why;

  if (put->parsed()) {
    auto data = read_input(io, file, why);
    if (!data) return fail(io, why);
    auto info = client.put(path.container, path.blob, std::as_bytes(std::span(data->data(), data->size())));
    if (!info) return fail(io, info.error().message);
  } else if (get->parsed()) {
    std::optional<std::uint64_t> range;
    if (length_option->count() > 0) range = length;
    auto blob = client.get(path.container, path.blob, offset, range);
    if (!blob) return fail(io, blob.error().message);
    if (!write_output(io, file, blob->bytes, why)) return fail(io, why);
  } else if (ls->parsed()) {
    auto entries = client.list(container, prefix);
    if (!entries) return fail(io, entries.error().message);
    for (const BlobInfo& entry : *entries) io.out << entry.size << '\t' << entry.name << '\n';
  } else if (rm->parsed()) {
    if (auto done = client.remove(path.container, path.blob); !done) return fail(io, done.error().message);
  } else if (stat->parsed()) {
    auto info = client.stat(path.container, path.blob);
    if (!info) return fail(io, info.error().message);
    io.out << "name\t" << target << "\nsize\t" << info->size << "\ngeneration\t" << info->generation << '\n';
  } else if (mkc->parsed()) {
    if (auto done = client.create_container(container); !done) return fail(io, done.error().message);
  } else if (rmc->parsed()) {
    if (auto done = client.delete_container(container); !done) return fail(io, done.error().message);
  }
  return kExitOk;
}

}  // namespace vscsim::azblob

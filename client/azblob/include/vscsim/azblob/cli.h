// The `azblob` command line, as a function so tests can run it with their own
// streams and a fake device:
//   azblob [--device PATH] [--timeout MS] put CONTAINER/BLOB FILE|-
//   azblob ... get CONTAINER/BLOB [FILE|-] [--offset N] [--length N]
//   azblob ... ls [CONTAINER] [--prefix P]
//   azblob ... rm|stat CONTAINER/BLOB
//   azblob ... mkc|rmc CONTAINER
//   azblob ... bench --transport vmbus|http ... (bench.h)
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "vscsim/azblob/device.h"

namespace vscsim::azblob {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed; the reason is on stderr
inline constexpr int kExitUsage = 2;   // the command line is wrong

struct CliStreams {
  std::istream& in;   // put's data for FILE "-"
  std::ostream& out;  // get's data for FILE "-", ls and stat output, --help
  std::ostream& err;  // messages
};

// Opens the device named by --device (production: Device::open).
using DeviceOpener = std::function<Result<Device>(const std::string& path)>;

[[nodiscard]] int run_cli(int argc, const char* const* argv, CliStreams streams, const DeviceOpener& open_device);

}  // namespace vscsim::azblob

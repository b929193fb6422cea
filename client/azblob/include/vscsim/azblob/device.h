// The az_blob character device, reduced to its one operation: hand the host a
// request, room for its response and an optional data buffer, and wait.
// `Device` fills struct az_blob_request_sync (vsc/az_blob/include/uapi) and
// turns the ioctl's errno and the host's wire status into an Error; the
// `Transport` beneath it issues the ioctl, so tests put a fake host there.
#pragma once

#include <linux/az_blob.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vscsim/azblob/error.h"

namespace vscsim::azblob {

inline constexpr const char* kDefaultDevicePath = "/dev/azure_blob";
// The driver counts a buffer's pages from the one holding its first byte to
// the one holding its last (x86-64: 4 KiB pages).
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kMaxPages = AZ_BLOB_MAX_PAGES;
inline constexpr std::chrono::milliseconds kMaxTimeout{AZ_BLOB_MAX_TIMEOUT_MS};

// The host's answer in response.status (docs/azure-blob.md, section 2).
enum class WireStatus : std::uint32_t {
  kSuccess = 0,           // the payload's own Status says how the operation went
  kInvalidRequest = 1,    // the host could not take the request apart
  kTimedOut = 2,          // the host could not finish within the timeout
  kResponseTooSmall = 3,  // the response buffer cannot hold the response
  kStoreFailed = 4,       // the host's store failed
};

// Pages spanned by `length` bytes at address `address` (0 for no bytes).
[[nodiscard]] std::size_t pages_spanned(std::uintptr_t address, std::size_t length);

class Transport {
 public:
  virtual ~Transport() = default;
  // Issues IOCTL_AZ_BLOB_DRIVER_USER_REQUEST; returns 0, or the errno it failed with.
  virtual int ioctl(az_blob_request_sync& request) = 0;
};

class Device {
 public:
  // Opens a device node, e.g. kDefaultDevicePath.
  [[nodiscard]] static Result<Device> open(const std::string& path);

  // A device over any transport (tests: a fake host). `path` names it in messages.
  Device(std::string path, std::unique_ptr<Transport> transport);

  [[nodiscard]] const std::string& path() const { return path_; }

  // One request. The data buffer the host sees: `data_out` if it is not empty,
  // with `data_in` copied to its start unless it is already there (the host's
  // answer goes there, data_valid = data_in.size()); else `data_in` alone (a
  // put: data_len = data_valid). `timeout` 0 leaves the choice to the driver
  // (module parameter timeout_ms). Returns the response bytes the host wrote.
  [[nodiscard]] Result<std::vector<std::byte>> call(std::span<const std::byte> request,
                                                    std::size_t response_capacity,
                                                    std::span<const std::byte> data_in,
                                                    std::span<std::byte> data_out,
                                                    std::chrono::milliseconds timeout);

 private:
  Error ioctl_error(int err, std::chrono::milliseconds timeout) const;

  std::string path_;
  std::unique_ptr<Transport> transport_;
  std::uint64_t calls_ = 0;  // makes each call's transaction id (guid) distinct
};

}  // namespace vscsim::azblob

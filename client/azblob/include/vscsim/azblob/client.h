// The Azure Blob store as a typed API: containers and blobs, over one Device.
// Each call builds a vscsim::blob::Request (proto/vscsim/blob.proto), sizes
// the ioctl's buffers, and turns every failure, from errno to the payload's
// Status, into an Error whose message names the operation and the blob:
//   "put mybucket/a.txt: the blob store is full (NO_SPACE)".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/azblob/device.h"
#include "vscsim/azblob/error.h"

namespace vscsim::blob {
class Request;
class Response;
}  // namespace vscsim::blob

namespace vscsim::azblob {

struct BlobInfo {
  std::string name;
  std::uint64_t size = 0;        // bytes; for a container in list(): its blob count
  std::uint64_t generation = 0;  // 1 on creation, +1 on every put
};

struct BlobData {
  BlobInfo info;
  std::vector<std::byte> bytes;
};

struct ClientOptions {
  std::chrono::milliseconds timeout{30000};  // per request; 0: the driver's default
  std::size_t response_capacity = 64 * 1024;
  // Data bytes per request, 0: as many as the driver allows (max_data_bytes()).
  // Bounds the memory one request pins; longer gets take several requests.
  std::size_t max_request_data = 0;
};

// The most data bytes one request can carry next to a response buffer of
// `response_capacity` bytes: the driver's page limit less the request's and
// the response's pages, every buffer counted as if it started mid-page.
[[nodiscard]] std::size_t max_data_bytes(std::size_t response_capacity);

class Client {
 public:
  explicit Client(Device device, ClientOptions options = {});

  [[nodiscard]] Result<void> create_container(std::string_view container);
  [[nodiscard]] Result<void> delete_container(std::string_view container);
  // Replaces the whole blob; at most max_data_bytes() bytes (one request).
  [[nodiscard]] Result<BlobInfo> put(std::string_view container, std::string_view blob,
                                     std::span<const std::byte> bytes);
  // `length` bytes from `offset`, fewer at the end of the blob; no length: to the
  // end (sized by a stat first); length 0: no bytes, but the blob and offset are
  // checked. Ranges over max_data_bytes() take several requests, checked to
  // read one generation of the blob.
  [[nodiscard]] Result<BlobData> get(std::string_view container, std::string_view blob,
                                     std::uint64_t offset = 0,
                                     std::optional<std::uint64_t> length = std::nullopt);
  // The blobs of `container` whose names start with `prefix`, or with no
  // container the containers; every page, sorted by name.
  [[nodiscard]] Result<std::vector<BlobInfo>> list(std::string_view container = {},
                                                   std::string_view prefix = {});
  [[nodiscard]] Result<BlobInfo> stat(std::string_view container, std::string_view blob);
  [[nodiscard]] Result<void> remove(std::string_view container, std::string_view blob);

  // The most data bytes one request of this client carries.
  [[nodiscard]] std::size_t max_data_bytes() const;
  [[nodiscard]] const Device& device() const { return device_; }

 private:
  // Sends `request` and returns the host's Response when its status is OK;
  // every error's message starts with `what` ("put c/b").
  Result<blob::Response> exchange(std::string_view what, blob::Request& request,
                                  std::span<const std::byte> data_in, std::span<std::byte> data_out);
  // exchange() for the operations whose answer is the status alone.
  Result<void> send(std::string_view what, blob::Request& request);
  Result<BlobInfo> stat_for(std::string_view what, std::string_view container, std::string_view blob);

  Device device_;
  ClientOptions options_;
};

}  // namespace vscsim::azblob

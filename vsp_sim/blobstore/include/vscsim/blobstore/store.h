// The blob store behind the simulator's Azure Blob device: containers holding
// named blobs, each blob replaced whole by a put and read by byte range.
//
// Semantics (the payload format proto/vscsim/blob.proto is the contract; this
// interface is what the executor maps it onto):
//   - Names are checked here (names.h): a bad one is kInvalidArgument, so no
//     implementation ever sees a name it could misuse as a path.
//   - A blob's generation is 1 when it is created and goes up by one on every
//     put that replaces it; a blob deleted and put again starts at 1.
//   - A put replaces the whole blob or leaves it as it was (never half).
//   - Capacity: the sum of all blob sizes may not pass Limits::capacity_bytes,
//     and containers plus blobs may not pass Limits::max_objects; a put or
//     create that would is kNoSpace and changes nothing.
//   - Listings are in bytewise name order and start after `start_after`.
// Errors are values (Result); nothing here throws across the interface.
// Not thread-safe: the simulator's event loop is its one user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::blobstore {

enum class ErrorCode {
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kNotEmpty,        // a container that still holds blobs
  kOutOfRange,      // a read starting past the end of the blob
  kBufferTooSmall,  // the bytes asked for do not fit the caller's buffer
  kNoSpace,         // capacity or object count exhausted
  kInternal,        // the backing storage failed (I/O error, damaged files)
};
[[nodiscard]] std::string_view name(ErrorCode code);
std::ostream& operator<<(std::ostream& os, ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // for people: what and which name
};

template <class T>
using StoreResult = Result<T, Error>;

struct BlobInfo {
  std::string name;
  std::uint64_t size = 0;        // bytes; for a container in a listing: its blob count
  std::uint64_t generation = 0;  // 0 for containers
  friend bool operator==(const BlobInfo&, const BlobInfo&) = default;
};

// Bytes [offset, offset + length) of a blob; length 0 means "to the end".
// A range reaching past the end is cut at the end.
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct ReadResult {
  BlobInfo blob;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // bytes written at the start of the caller's buffer
};

struct ListQuery {
  std::string prefix;
  std::string start_after;
  std::uint32_t max_results = 0;  // 0: no limit
};

struct ListPage {
  std::vector<BlobInfo> entries;
  bool truncated = false;  // more names follow the last entry
};

// Called once per listed name, in order. Returning false refuses this entry
// and ends the listing (the listing then reports that more follow).
using ListVisitor = std::function<bool(const BlobInfo&)>;

inline constexpr std::uint64_t kDefaultCapacityBytes = std::uint64_t{1} << 30;  // 1 GiB
inline constexpr std::uint64_t kDefaultMaxObjects = 65536;

struct Limits {
  std::uint64_t capacity_bytes = kDefaultCapacityBytes;
  // Containers plus blobs. Bounds the host memory a guest can take with
  // names alone (a blob name may be 1 KiB).
  std::uint64_t max_objects = kDefaultMaxObjects;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual StoreResult<void> create_container(std::string_view container) = 0;
  // kNotEmpty while the container holds blobs.
  virtual StoreResult<void> delete_container(std::string_view container) = 0;

  // Creates or replaces the whole blob; returns its new size and generation.
  virtual StoreResult<BlobInfo> put(std::string_view container, std::string_view blob,
                                    std::span<const std::byte> data) = 0;
  // Copies the range into the start of `out`. offset > size is kOutOfRange,
  // offset == size reads 0 bytes; more bytes than `out` holds is
  // kBufferTooSmall (nothing is copied).
  virtual StoreResult<ReadResult> get(std::string_view container, std::string_view blob,
                                      ByteRange range, std::span<std::byte> out) = 0;
  virtual StoreResult<BlobInfo> stat(std::string_view container, std::string_view blob) = 0;
  virtual StoreResult<void> delete_blob(std::string_view container, std::string_view blob) = 0;

  // Visits the container's blobs whose names start with `prefix` and sort
  // after `start_after`. The value is true when the visitor stopped early.
  virtual StoreResult<bool> visit_blobs(std::string_view container, std::string_view prefix,
                                        std::string_view start_after,
                                        const ListVisitor& visit) = 0;
  // The same over containers (BlobInfo::size is the blob count).
  virtual StoreResult<bool> visit_containers(std::string_view prefix,
                                             std::string_view start_after,
                                             const ListVisitor& visit) = 0;

  [[nodiscard]] virtual std::uint64_t used_bytes() const = 0;
  [[nodiscard]] virtual std::uint64_t object_count() const = 0;
  [[nodiscard]] virtual const Limits& limits() const = 0;

  // Listings with a result limit, built on the visitors.
  StoreResult<ListPage> list_blobs(std::string_view container, const ListQuery& query);
  StoreResult<ListPage> list_containers(const ListQuery& query);
  // Deletes every blob and container (a fresh store for the next scenario),
  // through the interface, so every kind of store does it the same way.
  StoreResult<void> clear();
};

}  // namespace vscsim::blobstore

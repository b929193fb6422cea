// Where an IndexedStore keeps blob bytes. The index (names, sizes,
// generations, capacity) is the IndexedStore's; a backing only stores and
// returns bytes, and reports what it held when it was opened.
//
// The IndexedStore calls a backing only with names already validated
// (names.h) and only in ways its index allows (no put into a container the
// index does not know, no read past a blob's size). Each call either happens
// whole or fails and changes nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/blobstore/store.h"

namespace vscsim::blobstore::detail {

struct LoadedContainer {
  std::string name;
  std::vector<BlobInfo> blobs;
};

class Backing {
 public:
  virtual ~Backing() = default;
  // What the backing holds now (a directory after a restart; nothing in memory).
  virtual StoreResult<std::vector<LoadedContainer>> load() = 0;
  virtual StoreResult<void> add_container(std::string_view container) = 0;
  // The container holds no blobs.
  virtual StoreResult<void> remove_container(std::string_view container) = 0;
  // Stores the whole blob with its generation, replacing any old one atomically.
  virtual StoreResult<void> write(std::string_view container, std::string_view blob,
                                  std::uint64_t generation, std::span<const std::byte> data) = 0;
  // Copies out.size() bytes from `offset` (inside the blob) into `out`.
  virtual StoreResult<void> read(std::string_view container, std::string_view blob,
                                 std::uint64_t offset, std::span<std::byte> out) = 0;
  virtual StoreResult<void> remove(std::string_view container, std::string_view blob) = 0;
};

}  // namespace vscsim::blobstore::detail

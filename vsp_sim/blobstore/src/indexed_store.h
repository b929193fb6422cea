// The one Store implementation: an in-memory index of containers and blobs
// (names, sizes, generations) that enforces every rule of store.h, over a
// Backing that holds the bytes (in memory, or files in a directory).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "backing.h"
#include "vscsim/blobstore/store.h"

namespace vscsim::blobstore::detail {

class IndexedStore final : public Store {
 public:
  // Loads what the backing already holds; fails if that breaks the rules
  // (a bad name, a duplicate).
  static StoreResult<std::unique_ptr<Store>> open(std::unique_ptr<Backing> backing, Limits limits);

  StoreResult<void> create_container(std::string_view container) override;
  StoreResult<void> delete_container(std::string_view container) override;
  StoreResult<BlobInfo> put(std::string_view container, std::string_view blob,
                            std::span<const std::byte> data) override;
  StoreResult<ReadResult> get(std::string_view container, std::string_view blob, ByteRange range,
                              std::span<std::byte> out) override;
  StoreResult<BlobInfo> stat(std::string_view container, std::string_view blob) override;
  StoreResult<void> delete_blob(std::string_view container, std::string_view blob) override;
  StoreResult<bool> visit_blobs(std::string_view container, std::string_view prefix,
                                std::string_view start_after, const ListVisitor& visit) override;
  StoreResult<bool> visit_containers(std::string_view prefix, std::string_view start_after,
                                     const ListVisitor& visit) override;

  [[nodiscard]] std::uint64_t used_bytes() const override { return used_bytes_; }
  [[nodiscard]] std::uint64_t object_count() const override { return objects_; }
  [[nodiscard]] const Limits& limits() const override { return limits_; }

 private:
  struct Entry {
    std::uint64_t size = 0;
    std::uint64_t generation = 0;
  };
  // std::less<> so lookups take string_view; std::string compares bytewise
  // (char_traits<char>::compare is memcmp-like, unsigned), the listing order.
  using Blobs = std::map<std::string, Entry, std::less<>>;
  using Containers = std::map<std::string, Blobs, std::less<>>;

  IndexedStore(std::unique_ptr<Backing> backing, Limits limits)
      : backing_(std::move(backing)), limits_(limits) {}

  StoreResult<Containers::iterator> find_container(std::string_view container);
  StoreResult<Blobs::iterator> find_blob(std::string_view container, std::string_view blob,
                                         Blobs** blobs = nullptr);

  std::unique_ptr<Backing> backing_;
  Limits limits_;
  Containers containers_;
  std::uint64_t used_bytes_ = 0;
  std::uint64_t objects_ = 0;
};

}  // namespace vscsim::blobstore::detail

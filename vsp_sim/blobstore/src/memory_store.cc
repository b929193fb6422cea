#include "vscsim/blobstore/memory_store.h"

#include <cstring>
#include <map>
#include <vector>

#include "backing.h"
#include "indexed_store.h"

namespace vscsim::blobstore {

namespace {

// Bytes per (container, blob). The index has already checked every name and
// range; a miss here would be a bug in the index, reported as kInternal.
class MemoryBacking final : public detail::Backing {
 public:
  StoreResult<std::vector<detail::LoadedContainer>> load() override {
    return std::vector<detail::LoadedContainer>{};
  }
  StoreResult<void> add_container(std::string_view) override { return {}; }
  StoreResult<void> remove_container(std::string_view) override { return {}; }
  StoreResult<void> write(std::string_view container, std::string_view blob, std::uint64_t,
                          std::span<const std::byte> data) override {
    bytes_[key(container, blob)].assign(data.begin(), data.end());
    return {};
  }
  StoreResult<void> read(std::string_view container, std::string_view blob, std::uint64_t offset,
                         std::span<std::byte> out) override {
    const auto it = bytes_.find(key(container, blob));
    if (it == bytes_.end() || offset > it->second.size() ||
        out.size() > it->second.size() - offset) {
      return Err(Error{ErrorCode::kInternal, "index and memory backing disagree"});
    }
    std::memcpy(out.data(), it->second.data() + offset, out.size());
    return {};
  }
  StoreResult<void> remove(std::string_view container, std::string_view blob) override {
    bytes_.erase(key(container, blob));
    return {};
  }

 private:
  // Container names hold no '/', so "container/blob" is unambiguous.
  static std::string key(std::string_view container, std::string_view blob) {
    std::string k(container);
    k += '/';
    k += blob;
    return k;
  }
  std::map<std::string, std::vector<std::byte>> bytes_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store(Limits limits) {
  // An empty in-memory backing always loads.
  return std::move(detail::IndexedStore::open(std::make_unique<MemoryBacking>(), limits)).value();
}

}  // namespace vscsim::blobstore

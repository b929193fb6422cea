#include "indexed_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "vscsim/blobstore/names.h"

namespace vscsim::blobstore::detail {

namespace {

Unexpected<Error> fail(ErrorCode code, std::string message) {
  return Err(Error{code, std::move(message)});
}

StoreResult<void> valid_container(std::string_view container) {
  if (auto r = check_container_name(container); !r.ok()) {
    return fail(ErrorCode::kInvalidArgument, r.error());
  }
  return {};
}

StoreResult<void> valid_blob(std::string_view container, std::string_view blob) {
  if (auto r = valid_container(container); !r.ok()) return r;
  if (auto r = check_blob_name(blob); !r.ok()) return fail(ErrorCode::kInvalidArgument, r.error());
  return {};
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Walks `map` from the first key after `start_after`, visiting the keys that
// carry `prefix`. Keys with a prefix are contiguous in sorted order, so the
// walk ends at the first key past them.
template <class Map, class MakeInfo>
bool visit_sorted(const Map& map, std::string_view prefix, std::string_view start_after,
                  const ListVisitor& visit, MakeInfo&& make_info) {
  // The first key that is both after start_after and at or after prefix.
  auto it = start_after < prefix ? map.lower_bound(prefix) : map.upper_bound(start_after);
  for (; it != map.end() && starts_with(it->first, prefix); ++it) {
    if (!visit(make_info(*it))) return true;
  }
  return false;
}

}  // namespace

StoreResult<std::unique_ptr<Store>> IndexedStore::open(std::unique_ptr<Backing> backing,
                                                       Limits limits) {
  auto loaded = backing->load();
  if (!loaded.ok()) return Err(std::move(loaded.error()));
  std::unique_ptr<IndexedStore> store(new IndexedStore(std::move(backing), limits));
  for (auto& c : *loaded) {
    if (auto r = valid_container(c.name); !r.ok()) return Err(std::move(r.error()));
    auto [cit, fresh] = store->containers_.try_emplace(c.name);
    if (!fresh) return fail(ErrorCode::kInternal, fmt::format("container '{}' twice", c.name));
    ++store->objects_;
    for (auto& b : c.blobs) {
      if (auto r = valid_blob(c.name, b.name); !r.ok()) return Err(std::move(r.error()));
      if (b.generation == 0) {
        return fail(ErrorCode::kInternal, fmt::format("blob in '{}' with generation 0", c.name));
      }
      if (!cit->second.try_emplace(b.name, Entry{b.size, b.generation}).second) {
        return fail(ErrorCode::kInternal, fmt::format("a blob of '{}' twice", c.name));
      }
      ++store->objects_;
      store->used_bytes_ += b.size;
    }
  }
  // Content above the limits (a smaller --blob-capacity than last time) is
  // kept; only growth is refused.
  return std::unique_ptr<Store>(std::move(store));
}

StoreResult<IndexedStore::Containers::iterator> IndexedStore::find_container(
    std::string_view container) {
  if (auto r = valid_container(container); !r.ok()) return Err(std::move(r.error()));
  auto it = containers_.find(container);
  if (it == containers_.end()) {
    return fail(ErrorCode::kNotFound, fmt::format("no container '{}'", container));
  }
  return it;
}

StoreResult<IndexedStore::Blobs::iterator> IndexedStore::find_blob(std::string_view container,
                                                                   std::string_view blob,
                                                                   Blobs** blobs) {
  if (auto r = valid_blob(container, blob); !r.ok()) return Err(std::move(r.error()));
  auto c = find_container(container);
  if (!c.ok()) return Err(std::move(c.error()));
  Blobs& in = (*c)->second;
  if (blobs != nullptr) *blobs = &in;
  auto it = in.find(blob);
  if (it == in.end()) {
    return fail(ErrorCode::kNotFound,
                fmt::format("no blob of {} bytes in '{}'", blob.size(), container));
  }
  return it;
}

StoreResult<void> IndexedStore::create_container(std::string_view container) {
  if (auto r = valid_container(container); !r.ok()) return r;
  if (containers_.contains(container)) {
    return fail(ErrorCode::kAlreadyExists, fmt::format("container '{}' exists", container));
  }
  if (objects_ >= limits_.max_objects) {
    return fail(ErrorCode::kNoSpace, fmt::format("the store holds {} objects", objects_));
  }
  if (auto r = backing_->add_container(container); !r.ok()) return r;
  containers_.try_emplace(std::string(container));
  ++objects_;
  return {};
}

StoreResult<void> IndexedStore::delete_container(std::string_view container) {
  auto c = find_container(container);
  if (!c.ok()) return Err(std::move(c.error()));
  if (!(*c)->second.empty()) {
    return fail(ErrorCode::kNotEmpty, fmt::format("container '{}' holds {} blob(s)", container,
                                                  (*c)->second.size()));
  }
  if (auto r = backing_->remove_container(container); !r.ok()) return r;
  containers_.erase(*c);
  --objects_;
  return {};
}

StoreResult<BlobInfo> IndexedStore::put(std::string_view container, std::string_view blob,
                                        std::span<const std::byte> data) {
  Blobs* blobs = nullptr;
  auto found = find_blob(container, blob, &blobs);
  const bool exists = found.ok();
  if (!exists && found.error().code != ErrorCode::kNotFound) return Err(std::move(found.error()));
  if (blobs == nullptr) return Err(std::move(found.error()));  // no such container
  const std::uint64_t old_size = exists ? (*found)->second.size : 0;
  // used - old + new, without overflow: compare new against what is free.
  const std::uint64_t others = used_bytes_ - old_size;
  if (others > limits_.capacity_bytes || data.size() > limits_.capacity_bytes - others) {
    return fail(ErrorCode::kNoSpace,
                fmt::format("{} bytes do not fit: {} of {} bytes used", data.size(), used_bytes_,
                            limits_.capacity_bytes));
  }
  if (!exists && objects_ >= limits_.max_objects) {
    return fail(ErrorCode::kNoSpace, fmt::format("the store holds {} objects", objects_));
  }
  const std::uint64_t generation = exists ? (*found)->second.generation + 1 : 1;
  if (auto r = backing_->write(container, blob, generation, data); !r.ok()) {
    return Err(std::move(r.error()));
  }
  const Entry entry{data.size(), generation};
  if (exists) {
    (*found)->second = entry;
  } else {
    blobs->try_emplace(std::string(blob), entry);
    ++objects_;
  }
  used_bytes_ = others + data.size();
  return BlobInfo{std::string(blob), entry.size, entry.generation};
}

StoreResult<ReadResult> IndexedStore::get(std::string_view container, std::string_view blob,
                                          ByteRange range, std::span<std::byte> out) {
  auto found = find_blob(container, blob);
  if (!found.ok()) return Err(std::move(found.error()));
  const Entry e = (*found)->second;
  if (range.offset > e.size) {
    return fail(ErrorCode::kOutOfRange,
                fmt::format("offset {} is past the blob's {} bytes", range.offset, e.size));
  }
  const std::uint64_t left = e.size - range.offset;
  const std::uint64_t n = range.length == 0 ? left : std::min(range.length, left);
  if (n > out.size()) {
    return fail(ErrorCode::kBufferTooSmall,
                fmt::format("{} bytes asked for, the buffer holds {}", n, out.size()));
  }
  if (n > 0) {
    if (auto r = backing_->read(container, blob, range.offset, out.first(n)); !r.ok()) {
      return Err(std::move(r.error()));
    }
  }
  return ReadResult{BlobInfo{std::string(blob), e.size, e.generation}, range.offset, n};
}

StoreResult<BlobInfo> IndexedStore::stat(std::string_view container, std::string_view blob) {
  auto found = find_blob(container, blob);
  if (!found.ok()) return Err(std::move(found.error()));
  return BlobInfo{std::string(blob), (*found)->second.size, (*found)->second.generation};
}

StoreResult<void> IndexedStore::delete_blob(std::string_view container, std::string_view blob) {
  Blobs* blobs = nullptr;
  auto found = find_blob(container, blob, &blobs);
  if (!found.ok()) return Err(std::move(found.error()));
  if (auto r = backing_->remove(container, blob); !r.ok()) return r;
  used_bytes_ -= (*found)->second.size;
  blobs->erase(*found);
  --objects_;
  return {};
}

StoreResult<bool> IndexedStore::visit_blobs(std::string_view container, std::string_view prefix,
                                            std::string_view start_after,
                                            const ListVisitor& visit) {
  auto c = find_container(container);
  if (!c.ok()) return Err(std::move(c.error()));
  return visit_sorted((*c)->second, prefix, start_after, visit, [](const auto& kv) {
    return BlobInfo{kv.first, kv.second.size, kv.second.generation};
  });
}

StoreResult<bool> IndexedStore::visit_containers(std::string_view prefix,
                                                 std::string_view start_after,
                                                 const ListVisitor& visit) {
  return visit_sorted(containers_, prefix, start_after, visit, [](const auto& kv) {
    return BlobInfo{kv.first, kv.second.size(), 0};
  });
}

}  // namespace vscsim::blobstore::detail

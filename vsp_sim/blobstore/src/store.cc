#include "vscsim/blobstore/store.h"

#include <ostream>
#include <string>
#include <vector>

namespace vscsim::blobstore {

std::string_view name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kAlreadyExists: return "already-exists";
    case ErrorCode::kInvalidArgument: return "invalid-argument";
    case ErrorCode::kNotEmpty: return "not-empty";
    case ErrorCode::kOutOfRange: return "out-of-range";
    case ErrorCode::kBufferTooSmall: return "buffer-too-small";
    case ErrorCode::kNoSpace: return "no-space";
    case ErrorCode::kInternal: return "internal";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, ErrorCode code) { return os << name(code); }

namespace {

// Collects up to max_results entries (0: all) from one visit.
template <class Visit>
StoreResult<ListPage> collect(std::uint32_t max_results, Visit&& visit) {
  ListPage page;
  auto stopped = visit([&](const BlobInfo& info) {
    if (max_results != 0 && page.entries.size() >= max_results) return false;
    page.entries.push_back(info);
    return true;
  });
  if (!stopped.ok()) return Err(std::move(stopped.error()));
  page.truncated = *stopped;
  return page;
}

}  // namespace

StoreResult<ListPage> Store::list_blobs(std::string_view container, const ListQuery& query) {
  return collect(query.max_results, [&](const ListVisitor& v) {
    return visit_blobs(container, query.prefix, query.start_after, v);
  });
}

StoreResult<ListPage> Store::list_containers(const ListQuery& query) {
  return collect(query.max_results, [&](const ListVisitor& v) {
    return visit_containers(query.prefix, query.start_after, v);
  });
}

StoreResult<void> Store::clear() {
  // Names first, deletes after: a visitor must not change what it walks.
  std::vector<std::string> containers;
  auto listed = visit_containers("", "", [&](const BlobInfo& c) {
    containers.push_back(c.name);
    return true;  // go on
  });
  if (!listed.ok()) return Err(listed.error());
  for (const auto& c : containers) {
    std::vector<std::string> blobs;
    auto r = visit_blobs(c, "", "", [&](const BlobInfo& b) {
      blobs.push_back(b.name);
      return true;
    });
    if (!r.ok()) return Err(r.error());
    for (const auto& b : blobs) {
      if (auto d = delete_blob(c, b); !d.ok()) return d;
    }
    if (auto d = delete_container(c); !d.ok()) return d;
  }
  return {};
}

}  // namespace vscsim::blobstore

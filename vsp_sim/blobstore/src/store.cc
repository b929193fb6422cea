#include "vscsim/blobstore/store.h"

#include <ostream>

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

}  // namespace vscsim::blobstore

#include "vscsim/azblob/client.h"

#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "vscsim/blob.pb.h"

namespace vscsim::azblob {
namespace {

constexpr std::uint32_t kFormatVersion = 1;
// A serialised request names at most a container (63 bytes) and two blob
// names (1024 bytes each): under one page, so at most two when it starts mid-page.
constexpr std::size_t kRequestPages = 2;
constexpr std::size_t kRequestMaxBytes = kPageSize;
// A host that keeps saying "truncated" must not keep a list() going forever.
constexpr int kMaxListPages = 100000;

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string blob_path(std::string_view container, std::string_view blob) {
  return std::string(container) + "/" + std::string(blob);
}

Error make_error(ErrorKind kind, std::string_view what, const std::string& message) {
  return Error{.kind = kind, .message = std::string(what) + ": " + message};
}

Error malformed(std::string_view what, const std::string& message) {
  return make_error(ErrorKind::kMalformed, what, message);
}

// The host's free text, safe to print: printable ASCII, at most 200 bytes.
std::string printable(const std::string& text) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMax) out += "...";
  return out;
}

std::string status_text(blob::Status status) {
  switch (status) {
    case blob::OK: return "success";
    case blob::NOT_FOUND: return "not found";
    case blob::ALREADY_EXISTS: return "already exists";
    case blob::INVALID_ARGUMENT: return "the host rejected an argument";
    case blob::NOT_EMPTY: return "the container is not empty";
    case blob::OUT_OF_RANGE: return "the offset is past the end of the blob";
    case blob::BUFFER_TOO_SMALL: return "the data buffer cannot hold the asked-for bytes";
    case blob::UNSUPPORTED_VERSION: return "the host does not speak payload format version 1";
    case blob::NO_SPACE: return "the blob store is full";
    case blob::INTERNAL: return "the host's store failed";
    case blob::STATUS_UNSPECIFIED: return "the host's answer has no status";
    default: break;
  }
  return "the host answered with an unknown status " + std::to_string(static_cast<int>(status));
}

Error status_error(std::string_view what, blob::Status status, const std::string& host_message) {
  std::string message = status_text(status);
  if (const std::string& name = blob::Status_Name(status); !name.empty()) message += " (" + name + ")";
  if (!host_message.empty()) message += "; the host says: " + printable(host_message);
  Error e = make_error(ErrorKind::kStatus, what, message);
  e.status = status;
  return e;
}

BlobInfo to_info(const blob::BlobInfo& info) {
  return BlobInfo{.name = info.name(), .size = info.size(), .generation = info.generation()};
}

}  // namespace

std::size_t max_data_bytes(std::size_t response_capacity) {
  std::size_t response_pages = (response_capacity + kPageSize - 1) / kPageSize + 1;
  std::size_t used = kRequestPages + response_pages + 1;  // +1: the data buffer may start mid-page
  return used >= kMaxPages ? 0 : (kMaxPages - used) * kPageSize;
}

Client::Client(Device device, ClientOptions options) : device_(std::move(device)), options_(options) {}

std::size_t Client::max_data_bytes() const {
  std::size_t limit = azblob::max_data_bytes(options_.response_capacity);
  return options_.max_request_data == 0 ? limit : std::min(limit, options_.max_request_data);
}

Result<blob::Response> Client::exchange(std::string_view what, blob::Request& request,
                                        std::span<const std::byte> data_in, std::span<std::byte> data_out) {
  request.set_format_version(kFormatVersion);
  std::string bytes = request.SerializeAsString();
  if (bytes.size() > kRequestMaxBytes) {
    return Err(make_error(ErrorKind::kLimit, what, "the names make a request of " + std::to_string(bytes.size()) +
                                                       " bytes; at most " + std::to_string(kRequestMaxBytes)));
  }
  auto reply = device_.call(as_bytes(bytes), options_.response_capacity, data_in, data_out, options_.timeout);
  if (!reply) return Err(with_context(std::move(reply).error(), what));

  blob::Response response;
  if (reply->size() > INT_MAX || !response.ParseFromArray(reply->data(), static_cast<int>(reply->size()))) {
    return Err(malformed(what, "the host's response (" + std::to_string(reply->size()) +
                                   " bytes) does not decode as a vscsim.blob.Response"));
  }
  if (response.status() != blob::OK) return Err(status_error(what, response.status(), response.message()));
  if (response.format_version() != kFormatVersion) {
    return Err(malformed(what, "the host answered in payload format version " +
                                   std::to_string(response.format_version()) + ", not 1"));
  }
  return response;
}

Result<void> Client::send(std::string_view what, blob::Request& request) {
  auto response = exchange(what, request, {}, {});
  if (!response) return Err(std::move(response).error());
  return Ok<Error>();
}

Result<void> Client::create_container(std::string_view container) {
  blob::Request request;
  request.mutable_create_container()->set_container(std::string(container));
  return send("create container " + std::string(container), request);
}

Result<void> Client::delete_container(std::string_view container) {
  blob::Request request;
  request.mutable_delete_container()->set_container(std::string(container));
  return send("delete container " + std::string(container), request);
}

Result<BlobInfo> Client::put(std::string_view container, std::string_view blob, std::span<const std::byte> bytes) {
  std::string what = "put " + blob_path(container, blob);
  if (bytes.size() > max_data_bytes()) {
    return Err(make_error(ErrorKind::kLimit, what,
                          "the blob is " + std::to_string(bytes.size()) + " bytes; one request carries at most " +
                              std::to_string(max_data_bytes()) + " (the driver's " + std::to_string(kMaxPages) +
                              "-page limit)"));
  }
  blob::Request request;
  auto* put = request.mutable_put();
  put->set_container(std::string(container));
  put->set_blob(std::string(blob));
  put->set_length(bytes.size());
  auto response = exchange(what, request, bytes, {});
  if (!response) return Err(std::move(response).error());
  if (!response->has_put()) return Err(malformed(what, "the host's answer carries no put result"));
  return to_info(response->put().blob());
}

Result<BlobInfo> Client::stat_for(std::string_view what, std::string_view container, std::string_view blob) {
  blob::Request request;
  auto* stat = request.mutable_stat();
  stat->set_container(std::string(container));
  stat->set_blob(std::string(blob));
  auto response = exchange(what, request, {}, {});
  if (!response) return Err(std::move(response).error());
  if (!response->has_stat()) return Err(malformed(what, "the host's answer carries no blob information"));
  return to_info(response->stat());
}

Result<BlobInfo> Client::stat(std::string_view container, std::string_view blob) {
  return stat_for("stat " + blob_path(container, blob), container, blob);
}

Result<BlobData> Client::get(std::string_view container, std::string_view blob, std::uint64_t offset,
                             std::optional<std::uint64_t> length) {
  std::string what = "get " + blob_path(container, blob);
  BlobData out;
  std::optional<std::uint64_t> generation;
  std::uint64_t want = 0;
  // Without a length the blob's size decides how much room to make (and a
  // length of 0 only checks that the blob and the offset exist).
  bool sized_by_stat = !length.has_value() || *length == 0;
  if (sized_by_stat) {
    auto info = stat_for(what, container, blob);
    if (!info) return Err(std::move(info).error());
    if (offset > info->size) {
      Error e = make_error(ErrorKind::kStatus, what,
                           "offset " + std::to_string(offset) + " is past the end of the blob (" +
                               std::to_string(info->size) + " bytes) (OUT_OF_RANGE)");
      e.status = blob::OUT_OF_RANGE;
      return Err(std::move(e));
    }
    want = length.has_value() ? 0 : info->size - offset;
    generation = info->generation;
    out.info = std::move(*info);
  } else {
    want = *length;
  }

  const std::uint64_t chunk_cap = max_data_bytes();
  std::uint64_t done = 0;
  while (done < want) {  // each pass moves at least one byte, or ends the loop
    std::uint64_t chunk = std::min(want - done, chunk_cap);
    blob::Request request;
    auto* get = request.mutable_get();
    get->set_container(std::string(container));
    get->set_blob(std::string(blob));
    get->set_offset(offset + done);
    get->set_length(chunk);
    out.bytes.resize(done + chunk);
    auto response = exchange(what, request, {}, std::span(out.bytes).subspan(done, chunk));
    if (!response) return Err(std::move(response).error());
    if (!response->has_get()) return Err(malformed(what, "the host's answer carries no get result"));
    const blob::GetResult& got = response->get();
    if (got.length() > chunk) {
      return Err(malformed(what, "the host claims " + std::to_string(got.length()) + " bytes in a " +
                                     std::to_string(chunk) + "-byte data buffer"));
    }
    if (generation && got.blob().generation() != *generation) {
      return Err(make_error(ErrorKind::kChanged, what,
                            "the blob changed while being read (generation " + std::to_string(*generation) +
                                ", then " + std::to_string(got.blob().generation()) + "); try again"));
    }
    generation = got.blob().generation();
    out.info = to_info(got.blob());
    done += got.length();
    out.bytes.resize(done);
    if (got.length() < chunk) break;  // the end of the blob
  }
  if (sized_by_stat && done < want) {
    return Err(make_error(ErrorKind::kChanged, what,
                          "the blob ended after " + std::to_string(offset + done) + " bytes, " +
                              std::to_string(offset + want) + " expected; try again"));
  }
  return out;
}

Result<std::vector<BlobInfo>> Client::list(std::string_view container, std::string_view prefix) {
  std::string what = container.empty() ? std::string("list containers") : "list " + std::string(container);
  std::vector<BlobInfo> entries;
  std::string start_after;
  for (int page = 0; page < kMaxListPages; ++page) {
    blob::Request request;
    auto* list = request.mutable_list();
    list->set_container(std::string(container));
    list->set_prefix(std::string(prefix));
    list->set_start_after(start_after);
    auto response = exchange(what, request, {}, {});
    if (!response) return Err(std::move(response).error());
    if (!response->has_list()) return Err(malformed(what, "the host's answer carries no list result"));
    const blob::ListResult& result = response->list();
    for (const blob::BlobInfo& entry : result.entries()) {
      // Pages resume after the last name, so names must strictly increase.
      if (!entries.empty() && entry.name() <= entries.back().name) {
        return Err(malformed(what, "the host's names are out of order ('" + printable(entries.back().name) +
                                       "' before '" + printable(entry.name()) + "')"));
      }
      entries.push_back(to_info(entry));
    }
    if (!result.truncated()) return entries;
    if (result.entries().empty()) return Err(malformed(what, "the host says more names follow but sent none"));
    start_after = entries.back().name;
  }
  return Err(malformed(what, "the host is still listing after " + std::to_string(kMaxListPages) + " pages"));
}

Result<void> Client::remove(std::string_view container, std::string_view blob) {
  blob::Request request;
  auto* remove = request.mutable_delete_();
  remove->set_container(std::string(container));
  remove->set_blob(std::string(blob));
  return send("remove " + blob_path(container, blob), request);
}

}  // namespace vscsim::azblob

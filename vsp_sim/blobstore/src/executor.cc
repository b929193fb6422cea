#include "vscsim/blobstore/executor.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>

#include <climits>
#include <mutex>

#include "vscsim/base/log.h"

namespace vscsim::blobstore {

blob::Status to_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return blob::NOT_FOUND;
    case ErrorCode::kAlreadyExists: return blob::ALREADY_EXISTS;
    case ErrorCode::kInvalidArgument: return blob::INVALID_ARGUMENT;
    case ErrorCode::kNotEmpty: return blob::NOT_EMPTY;
    case ErrorCode::kOutOfRange: return blob::OUT_OF_RANGE;
    case ErrorCode::kBufferTooSmall: return blob::BUFFER_TOO_SMALL;
    case ErrorCode::kNoSpace: return blob::NO_SPACE;
    case ErrorCode::kInternal: return blob::INTERNAL;
  }
  return blob::INTERNAL;
}

namespace {

void quiet_protobuf_log(google::protobuf::LogLevel, const char*, int, const std::string& message) {
  VSCSIM_LOG_RATELIMITED(log::Level::kDebug, "protobuf: {}", message);
}

}  // namespace

Result<blob::Request, std::string> decode_request(std::span<const std::byte> bytes) {
  static std::once_flag routed;
  std::call_once(routed, [] { google::protobuf::SetLogHandler(&quiet_protobuf_log); });
  if (bytes.size() > INT_MAX) return Err(fmt::format("{} request bytes", bytes.size()));
  blob::Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Err(fmt::format("{} request bytes do not decode as a blob.Request", bytes.size()));
  }
  return request;
}

namespace {

void fail(blob::Response& response, blob::Status status, std::string message) {
  response.set_status(status);
  response.set_message(std::move(message));
}

void fail(blob::Response& response, const Error& e) { fail(response, to_status(e.code), e.message); }

// OK, or the store's error.
void answer(blob::Response& response, const StoreResult<void>& r) {
  if (r.ok()) {
    response.set_status(blob::OK);
  } else {
    fail(response, r.error());
  }
}

void set_info(blob::BlobInfo& out, const BlobInfo& in) {
  out.set_name(in.name);
  out.set_size(in.size);
  out.set_generation(in.generation);
}

// Serialized size of a length-delimited field with a one-byte tag.
std::uint64_t field_size(std::uint64_t payload) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(payload) + payload;
}

void list(Store& store, const blob::ListBlobs& req, std::uint64_t capacity,
          blob::Response& response) {
  response.set_status(blob::OK);
  // What the response costs without the list; the list field's tag (12) is
  // one byte, as is each entry's (1).
  const std::uint64_t base = response.ByteSizeLong();
  blob::ListResult* result = response.mutable_list();
  std::uint64_t payload = 2;  // room for "truncated = true" (tag and value)
  const ListVisitor take = [&](const BlobInfo& info) {
    const auto count = static_cast<std::uint32_t>(result->entries_size());
    if (req.max_results() != 0 && count >= req.max_results()) return false;
    blob::BlobInfo entry;
    set_info(entry, info);
    const std::uint64_t grown = payload + field_size(entry.ByteSizeLong());
    if (count > 0 && base + field_size(grown) > capacity) return false;
    payload = grown;
    *result->add_entries() = std::move(entry);
    return true;
  };
  auto stopped = req.container().empty()
                     ? store.visit_containers(req.prefix(), req.start_after(), take)
                     : store.visit_blobs(req.container(), req.prefix(), req.start_after(), take);
  if (!stopped.ok()) {
    response.clear_list();
    fail(response, stopped.error());
    return;
  }
  result->set_truncated(*stopped);
}

void get(Store& store, const blob::GetBlob& req, std::span<std::byte> output,
         blob::Response& response) {
  auto r = store.get(req.container(), req.blob(), ByteRange{req.offset(), req.length()}, output);
  if (!r.ok()) {
    fail(response, r.error());
    if (r.error().code == ErrorCode::kBufferTooSmall) {
      // Say how big the blob is, so the caller can size its next buffer.
      if (auto info = store.stat(req.container(), req.blob()); info.ok()) {
        set_info(*response.mutable_get()->mutable_blob(), *info);
        response.mutable_get()->set_offset(req.offset());
      }
    }
    return;
  }
  response.set_status(blob::OK);
  blob::GetResult* g = response.mutable_get();
  set_info(*g->mutable_blob(), r->blob);
  g->set_offset(r->offset);
  g->set_length(r->length);
}

}  // namespace

blob::Response execute(Store& store, const blob::Request& request, const RequestBuffers& buffers) {
  blob::Response response;
  response.set_format_version(kFormatVersion);
  if (request.format_version() != kFormatVersion) {
    fail(response, blob::UNSUPPORTED_VERSION,
         fmt::format("format version {} (this host speaks {})", request.format_version(),
                     kFormatVersion));
    return response;
  }
  switch (request.op_case()) {
    case blob::Request::kCreateContainer:
      answer(response, store.create_container(request.create_container().container()));
      break;
    case blob::Request::kDeleteContainer:
      answer(response, store.delete_container(request.delete_container().container()));
      break;
    case blob::Request::kPut: {
      const blob::PutBlob& p = request.put();
      if (p.length() != buffers.input.size()) {
        fail(response, blob::INVALID_ARGUMENT,
             fmt::format("put of length {} with {} valid data bytes", p.length(),
                         buffers.input.size()));
        break;
      }
      auto r = store.put(p.container(), p.blob(), buffers.input);
      if (!r.ok()) {
        fail(response, r.error());
        break;
      }
      response.set_status(blob::OK);
      set_info(*response.mutable_put()->mutable_blob(), *r);
      break;
    }
    case blob::Request::kGet:
      get(store, request.get(), buffers.output, response);
      break;
    case blob::Request::kList:
      list(store, request.list(), buffers.response_capacity, response);
      break;
    case blob::Request::kStat: {
      auto r = store.stat(request.stat().container(), request.stat().blob());
      if (!r.ok()) {
        fail(response, r.error());
        break;
      }
      response.set_status(blob::OK);
      set_info(*response.mutable_stat(), *r);
      break;
    }
    case blob::Request::kDelete:
      answer(response, store.delete_blob(request.delete_().container(), request.delete_().blob()));
      break;
    case blob::Request::OP_NOT_SET:
      fail(response, blob::INVALID_ARGUMENT, "the request names no operation");
      break;
  }
  return response;
}

}  // namespace vscsim::blobstore

// Runs one payload request (proto/vscsim/blob.proto, format version 1)
// against a Store and builds its Response. Deterministic: the answer depends
// only on the store's content and the arguments (no clocks, no randomness).
//
// Buffers follow docs/azure-blob.md section 3: a put's bytes are the first
// data_valid bytes of the data buffer (`input`); a get writes its bytes at the
// start of the data buffer (`output`) and says how many in GetResult.length.
// A listing holds at most max_results entries and no more than fit in the
// response buffer (`response_capacity`), with truncated set when names
// remain; it always holds at least one entry when any remain, so a client
// paging with start_after always moves on (if that one entry does not fit,
// the response is too big for the buffer and the caller says so).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "vscsim/base/result.h"
#include "vscsim/blob.pb.h"
#include "vscsim/blobstore/store.h"

namespace vscsim::blobstore {

inline constexpr std::uint32_t kFormatVersion = 1;

struct RequestBuffers {
  std::span<const std::byte> input;  // the first data_valid bytes of the data buffer
  std::span<std::byte> output;       // the data buffer, where a get writes
  std::uint64_t response_capacity = UINT64_MAX;  // bytes the response buffer holds
};

// Decodes a Request from bytes a guest wrote. Protobuf reports some bad
// input itself (a string field that is not UTF-8) on stderr at error level;
// the first call routes protobuf's own log into the rate-limited log at debug
// level instead, so a guest cannot print at will. (That handler is process
// wide; protobuf offers no other.)
[[nodiscard]] Result<blob::Request, std::string> decode_request(std::span<const std::byte> bytes);

[[nodiscard]] blob::Response execute(Store& store, const blob::Request& request,
                                     const RequestBuffers& buffers);

// The payload status for a store error.
[[nodiscard]] blob::Status to_status(ErrorCode code);

}  // namespace vscsim::blobstore

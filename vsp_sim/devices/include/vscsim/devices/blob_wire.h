// The Azure Blob device's VMBus wire format (docs/azure-blob.md section 2):
// the 56-byte request after a GPA-direct packet's single range, the 12-byte
// completion, the wire status codes, and the one function that checks a
// request against its page list before any guest memory is touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"
#include "vscsim/wire/parse.h"

namespace vscsim::devices::blob_wire {

inline constexpr std::uint32_t kVersion = 0;
inline constexpr std::uint32_t kOpUserRequest = 0x100;
inline constexpr std::uint32_t kOpRegisterBuffer = 0x101;    // unused by the driver; refused
inline constexpr std::uint32_t kOpDeregisterBuffer = 0x102;  // unused by the driver; refused
inline constexpr std::uint32_t kMaxPages = 8192;             // per request, all buffers together
inline constexpr std::uint32_t kPageBytes = 4096;

enum class WireStatus : std::uint32_t {
  kSuccess = 0,           // the payload's own status says how the operation went
  kInvalidRequest = 1,    // version, operation, an offset or length, or undecodable
  kTimedOut = 2,          // the host could not finish within timeout_ms
  kResponseTooSmall = 3,  // the serialized Response does not fit the response buffer
  kStoreFailed = 4,       // the store failed (the payload status is INTERNAL)
};
[[nodiscard]] std::string_view name(WireStatus status);

#pragma pack(push, 1)
struct Request {
  std::uint32_t version;
  std::uint32_t timeout_ms;
  std::uint32_t data_buffer_offset;
  std::uint32_t data_buffer_length;
  std::uint32_t data_buffer_valid;
  std::uint32_t operation_type;
  std::uint32_t request_buffer_offset;
  std::uint32_t request_buffer_length;
  std::uint32_t response_buffer_offset;
  std::uint32_t response_buffer_length;
  std::uint8_t transaction_id[16];
};
struct Completion {
  std::uint32_t length;  // kCompletionLength
  std::uint32_t error;   // WireStatus
  std::uint32_t response_len;
};
#pragma pack(pop)
static_assert(sizeof(Request) == 56);
static_assert(offsetof(Request, operation_type) == 20);
static_assert(offsetof(Request, response_buffer_length) == 36);
static_assert(offsetof(Request, transaction_id) == 40);
static_assert(sizeof(Completion) == 12);
inline constexpr std::uint32_t kCompletionLength = sizeof(Completion);

// A byte window of the concatenated pages.
struct Window {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// A request that passed check_request: every window lies inside the pages,
// and the windows do not overlap.
struct CheckedRequest {
  Window data;               // data_buffer_offset/length
  std::uint64_t data_valid;  // <= data.length
  Window request;            // length >= 1
  Window response;           // length >= 1
  std::uint32_t timeout_ms;  // 0: the driver set none; the host imposes none
};

// Checks the request copied out of the packet against the packet's range.
// The range must be whole pages (byte_offset 0, byte_count = pages * 4096,
// at most kMaxPages); version kVersion; operation kOpUserRequest;
// request and response lengths >= 1; data_valid <= data length; each
// offset + length inside the range (64-bit sums: no u32 wrap); buffers that
// are not empty do not overlap. The error says which rule failed.
Result<CheckedRequest, std::string> check_request(const Request& request,
                                                  const wire::ParsedGpaRange& range);

}  // namespace vscsim::devices::blob_wire

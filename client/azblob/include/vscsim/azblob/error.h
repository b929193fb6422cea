// What went wrong in an Azure Blob request, at which layer, and a message for
// people. The layers (docs/azure-blob.md): opening the device, the ioctl
// (errno), the VMBus wire status the host answered, and the payload's Status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"

namespace vscsim::azblob {

enum class ErrorKind {
  kOpen,       // the device could not be opened; sys_errno says why
  kIoctl,      // the ioctl failed; sys_errno says why
  kWire,       // the host answered with a non-zero wire status (wire_status)
  kStatus,     // the payload's Status is not OK (status)
  kMalformed,  // the answer does not decode, or does not fit the request
  kLimit,      // the request is more than one ioctl may carry; nothing was sent
  kChanged,    // the blob changed between the requests of one multi-request get
  kLocal,      // a local file could not be read or written (the CLI)
  kHttp,       // the HTTP path (http_client.h): the connection failed (sys_errno), or the
               // server's answer was malformed or not the success expected (http_status)
};

struct Error {
  ErrorKind kind = ErrorKind::kLocal;
  std::string message{};  // complete, e.g. "put c/a.txt: the blob store is full (NO_SPACE)"
  int sys_errno = 0;
  std::uint32_t wire_status = 0;
  int status = 0;  // a vscsim::blob::Status value (kept an int: no protobuf in this header)
  int http_status = 0;  // kHttp: the answer's status code; 0 when there was no answer
};

template <class T>
using Result = vscsim::Result<T, Error>;

// The error with "<context>: " in front of its message.
[[nodiscard]] Error with_context(Error error, std::string_view context);

// "ETIMEDOUT" for ETIMEDOUT and the other errnos the driver and open() return;
// "errno N" for the rest.
[[nodiscard]] std::string errno_name(int err);

}  // namespace vscsim::azblob

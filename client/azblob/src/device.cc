#include "vscsim/azblob/device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace vscsim::azblob {
namespace {

// The real device: an open file descriptor.
class FdTransport final : public Transport {
 public:
  explicit FdTransport(int fd) : fd_(fd) {}
  ~FdTransport() override { ::close(fd_); }
  FdTransport(const FdTransport&) = delete;
  FdTransport& operator=(const FdTransport&) = delete;

  int ioctl(az_blob_request_sync& request) override {
    return ::ioctl(fd_, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &request) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

Error limit_error(std::string message) { return Error{.kind = ErrorKind::kLimit, .message = std::move(message)}; }

std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

std::string wire_message(std::uint32_t status, std::size_t response_capacity) {
  switch (static_cast<WireStatus>(status)) {
    case WireStatus::kSuccess: break;
    case WireStatus::kInvalidRequest: return "the host rejected the request as invalid (wire status 1)";
    case WireStatus::kTimedOut: return "the host could not finish within the timeout (wire status 2)";
    case WireStatus::kResponseTooSmall:
      return "the host's response does not fit the " + std::to_string(response_capacity) +
             "-byte response buffer (wire status 3)";
    case WireStatus::kStoreFailed: return "the host's store failed (wire status 4)";
  }
  return "the host answered with an unknown wire status " + std::to_string(status);
}

}  // namespace

std::size_t pages_spanned(std::uintptr_t address, std::size_t length) {
  if (length == 0) return 0;
  return (address + length - 1) / kPageSize - address / kPageSize + 1;
}

Result<Device> Device::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Error e{.kind = ErrorKind::kOpen, .sys_errno = err};
    switch (err) {
      case ENOENT:
      case ENODEV:
      case ENXIO:
        e.message = path + ": no such device — is the az_blob module loaded and a blob channel offered?";
        break;
      case EACCES:
      case EPERM:
        e.message = path + ": permission denied (" + errno_name(err) + ")";
        break;
      default:
        e.message = path + ": " + std::strerror(err) + " (" + errno_name(err) + ")";
    }
    return Err(std::move(e));
  }
  return Device(path, std::make_unique<FdTransport>(fd));
}

Device::Device(std::string path, std::unique_ptr<Transport> transport)
    : path_(std::move(path)), transport_(std::move(transport)) {}

Result<std::vector<std::byte>> Device::call(std::span<const std::byte> request, std::size_t response_capacity,
                                            std::span<const std::byte> data_in, std::span<std::byte> data_out,
                                            std::chrono::milliseconds timeout) {
  constexpr std::size_t kMaxLen = std::numeric_limits<std::uint32_t>::max();
  if (request.empty() || response_capacity == 0) {
    return Err(limit_error("a request needs a request and a response buffer"));
  }
  if (!data_out.empty() && data_in.size() > data_out.size()) {
    return Err(limit_error("the data for the host (" + std::to_string(data_in.size()) +
                           " bytes) is larger than the data buffer (" + std::to_string(data_out.size()) +
                           " bytes)"));
  }
  if (timeout.count() < 0 || timeout > kMaxTimeout) {
    return Err(limit_error("timeout " + std::to_string(timeout.count()) + " ms is outside the driver's 0.." +
                           std::to_string(kMaxTimeout.count()) + " ms"));
  }
  std::vector<std::byte> response(response_capacity);
  std::span<const std::byte> data = data_out.empty() ? data_in : std::span<const std::byte>(data_out);
  if (request.size() > kMaxLen || response.size() > kMaxLen || data.size() > kMaxLen) {
    return Err(limit_error("a buffer is over 4 GiB"));
  }
  std::size_t pages = pages_spanned(address_of(request.data()), request.size()) +
                      pages_spanned(address_of(response.data()), response.size()) +
                      pages_spanned(address_of(data.data()), data.size());
  if (pages > kMaxPages) {
    return Err(limit_error("the buffers span " + std::to_string(pages) + " pages; the driver takes at most " +
                           std::to_string(kMaxPages)));
  }
  if (!data_out.empty() && !data_in.empty() && data_in.data() != data_out.data()) {
    std::memmove(data_out.data(), data_in.data(), data_in.size());
  }

  az_blob_request_sync sync{};
  // The transaction id only has to tell this process's requests apart.
  std::uint64_t call_number = ++calls_;
  std::uint32_t pid = static_cast<std::uint32_t>(::getpid());
  std::memcpy(sync.guid, &call_number, sizeof call_number);
  std::memcpy(sync.guid + sizeof call_number, &pid, sizeof pid);
  sync.timeout = static_cast<std::uint32_t>(timeout.count());
  sync.request_len = static_cast<std::uint32_t>(request.size());
  sync.response_len = static_cast<std::uint32_t>(response.size());
  sync.data_len = static_cast<std::uint32_t>(data.size());
  sync.data_valid = static_cast<std::uint32_t>(data_in.size());
  sync.reserved = 0;
  sync.request_buffer = address_of(request.data());
  sync.response_buffer = address_of(response.data());
  sync.data_buffer = data.empty() ? 0 : address_of(data.data());

  if (int err = transport_->ioctl(sync); err != 0) {
    return Err(ioctl_error(err, timeout));
  }
  if (sync.response.status != 0) {
    return Err(Error{.kind = ErrorKind::kWire,
                     .message = wire_message(sync.response.status, response.size()),
                     .wire_status = sync.response.status});
  }
  if (sync.response.response_len > response.size()) {
    return Err(Error{.kind = ErrorKind::kMalformed,
                     .message = "the driver reports " + std::to_string(sync.response.response_len) +
                                " response bytes in a " + std::to_string(response.size()) + "-byte buffer"});
  }
  response.resize(sync.response.response_len);
  return response;
}

Error Device::ioctl_error(int err, std::chrono::milliseconds timeout) const {
  std::string name = errno_name(err);
  std::string message;
  switch (err) {
    case ETIMEDOUT:
      message = timeout.count() == 0
                    ? "timed out after the driver's default timeout (module parameter timeout_ms)"
                    : "timed out after " + std::to_string(timeout.count()) + " ms";
      message += ": the host did not answer (ETIMEDOUT)";
      break;
    case ENODEV:
      message = path_ + " was removed (the host rescinded the channel or the driver was unbound) (ENODEV)";
      break;
    case EBUSY: message = "the driver has too many requests in flight (EBUSY); try again"; break;
    case EPERM: message = path_ + " was opened by a process with other credentials (EPERM)"; break;
    case EIO: message = "the host's answer was malformed (EIO)"; break;
    case EINVAL: message = "the driver rejected the request's lengths, pointers or timeout (EINVAL)"; break;
    case EFAULT: message = "the driver could not reach one of the buffers (EFAULT)"; break;
    case ENOTTY: message = path_ + " does not take the az_blob ioctl (ENOTTY): is it an az_blob device?"; break;
    default: message = "the ioctl on " + path_ + " failed: " + std::strerror(err) + " (" + name + ")";
  }
  return Error{.kind = ErrorKind::kIoctl, .message = std::move(message), .sys_errno = err};
}

}  // namespace vscsim::azblob

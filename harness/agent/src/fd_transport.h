// The azblob client library's Transport over a slot's already-open fd: the
// library's own transport opens the device itself, but a BlobCall must use
// the file the host named (opened, dup'ed, forked or passed as it chose).
#pragma once

#include <sys/ioctl.h>

#include <cerrno>
#include <utility>

#include "slots.h"
#include "vscsim/azblob/device.h"

namespace vscsim::agent {

class SlotFdTransport final : public azblob::Transport {
 public:
  explicit SlotFdTransport(SharedFd fd) : fd_(std::move(fd)) {}

  int ioctl(az_blob_request_sync& request) override {
    return ::ioctl(fd_->get(), IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &request) == 0 ? 0 : errno;
  }

 private:
  SharedFd fd_;  // keeps the fd open while the call runs, whatever Close does meanwhile
};

}  // namespace vscsim::agent

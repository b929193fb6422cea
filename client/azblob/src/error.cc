#include "vscsim/azblob/error.h"

#include <cerrno>
#include <string>
#include <utility>

namespace vscsim::azblob {

Error with_context(Error error, std::string_view context) {
  error.message = std::string(context) + ": " + error.message;
  return error;
}

std::string errno_name(int err) {
  switch (err) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOTTY: return "ENOTTY";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENODEV: return "ENODEV";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    case EIO: return "EIO";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EINTR: return "EINTR";
    case ENOMEM: return "ENOMEM";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    default: return "errno " + std::to_string(err);
  }
}

}  // namespace vscsim::azblob

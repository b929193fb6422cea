#include "vscsim/agent/framing.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace vscsim::agent {
namespace {

std::uint32_t read_le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t{u[0]} | std::uint32_t{u[1]} << 8 | std::uint32_t{u[2]} << 16 | std::uint32_t{u[3]} << 24;
}

// Waits until `fd` takes more bytes; returns 0, ETIMEDOUT or an errno.
int wait_writable(int fd, Deadline deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline != kNoDeadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ETIMEDOUT;
      timeout_ms = static_cast<int>(std::min<long long>(left.count(), 60'000));
    }
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) return errno;
    if (n > 0) return (p.revents & (POLLERR | POLLNVAL)) != 0 && (p.revents & POLLOUT) == 0 ? EPIPE : 0;
  }
}

}  // namespace

std::array<char, kFrameHeaderBytes> frame_header(std::uint32_t payload_bytes) {
  return {static_cast<char>(payload_bytes & 0xff), static_cast<char>((payload_bytes >> 8) & 0xff),
          static_cast<char>((payload_bytes >> 16) & 0xff), static_cast<char>((payload_bytes >> 24) & 0xff)};
}

void FrameDecoder::feed(std::string_view bytes) {
  if (skip_ > 0) {
    const auto dropped = std::min<std::uint64_t>(skip_, bytes.size());
    skip_ -= dropped;
    bytes.remove_prefix(dropped);
  }
  // Compact before growing so that a long stream of frames keeps the buffer small.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<FrameDecoder::Event> FrameDecoder::next() {
  if (skip_ > 0) return std::nullopt;
  const std::size_t held = buffer_.size() - consumed_;
  if (held < kFrameHeaderBytes) return std::nullopt;
  const std::uint32_t length = read_le32(buffer_.data() + consumed_);
  if (length > max_payload_) {
    consumed_ += kFrameHeaderBytes;
    const std::size_t present = std::min<std::size_t>(length, buffer_.size() - consumed_);
    consumed_ += present;
    skip_ = length - present;
    return Event{.frame = std::nullopt, .oversize = Oversize{length}};
  }
  if (held - kFrameHeaderBytes < length) return std::nullopt;
  Event event{.frame = Frame{buffer_.substr(consumed_ + kFrameHeaderBytes, length)}, .oversize = std::nullopt};
  consumed_ += kFrameHeaderBytes + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return event;
}

void FrameDecoder::reset() {
  buffer_.clear();
  consumed_ = 0;
  skip_ = 0;
}

ssize_t send_some(int fd, const iovec* iov, int iov_count, std::span<const int> fds) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(iov_count);
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK && fds.empty()) n = ::writev(fd, iov, iov_count);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

int write_frame(int fd, std::string_view payload, std::span<const int> fds, Deadline deadline) {
  if (payload.size() > kMaxFramePayload) return EMSGSIZE;
  const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
  iovec iov[2] = {{const_cast<char*>(header.data()), header.size()},
                  {const_cast<char*>(payload.data()), payload.size()}};
  int first = 0;
  bool fds_sent = fds.empty();
  while (first < 2) {
    const ssize_t n = send_some(fd, iov + first, 2 - first, fds_sent ? std::span<const int>{} : fds);
    if (n == -EAGAIN) {
      if (const int err = wait_writable(fd, deadline); err != 0) return err;
      continue;
    }
    if (n < 0) return static_cast<int>(-n);
    fds_sent = true;
    auto left = static_cast<std::size_t>(n);
    while (first < 2 && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < 2) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return 0;
}

}  // namespace vscsim::agent

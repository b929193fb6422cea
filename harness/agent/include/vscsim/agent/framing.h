// The frames of the guest agent's port (proto/vscsim/agent.proto): a 4-byte
// little-endian length, then that many bytes of one serialized message.
// Shared by the agent in the guest and AgentClient on the host, and by the
// agent's own processes among themselves; it knows nothing of protobuf.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct iovec;

namespace vscsim::agent {

inline constexpr std::size_t kFrameHeaderBytes = 4;
// The largest payload a frame may carry; a longer one is a protocol error.
inline constexpr std::uint32_t kMaxFramePayload = 16u << 20;

[[nodiscard]] std::array<char, kFrameHeaderBytes> frame_header(std::uint32_t payload_bytes);

// Cuts a byte stream into frames, however the reads happened to split it.
// A header that declares more than the limit yields one Oversize event; the
// bytes it declared are then dropped as they arrive (never buffered), so a
// sender that did send them is back in step with the frame after.
class FrameDecoder {
 public:
  struct Frame {
    std::string payload;
  };
  struct Oversize {
    std::uint32_t declared = 0;
  };
  struct Event {
    std::optional<Frame> frame;        // set for a frame
    std::optional<Oversize> oversize;  // set for an oversize header
  };

  explicit FrameDecoder(std::uint32_t max_payload = kMaxFramePayload) : max_payload_(max_payload) {}

  void feed(std::string_view bytes);
  // The next frame or oversize notice; nullopt until more bytes are fed.
  [[nodiscard]] std::optional<Event> next();
  // Bytes of an incomplete frame are held (or an oversize frame is being dropped).
  [[nodiscard]] bool mid_frame() const { return skip_ > 0 || buffer_.size() > consumed_; }
  // Forgets everything fed so far (a new connection).
  void reset();

 private:
  std::uint32_t max_payload_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes at the front of buffer_ already handed out
  std::uint64_t skip_ = 0;    // bytes of an oversize frame still to drop
};

using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// One send attempt of `iov` (sendmsg with MSG_NOSIGNAL on a socket, writev on
// anything else), with `fds` attached as SCM_RIGHTS (sockets only). Returns
// the bytes written or -errno; EINTR is retried.
[[nodiscard]] ssize_t send_some(int fd, const iovec* iov, int iov_count, std::span<const int> fds);

// Writes one whole frame through partial writes, EINTR and EAGAIN (waiting
// for the fd to take more until `deadline`). `fds` travel with the first byte.
// Returns 0 or an errno (ETIMEDOUT at the deadline, EMSGSIZE over the limit).
[[nodiscard]] int write_frame(int fd, std::string_view payload, std::span<const int> fds = {},
                              Deadline deadline = kNoDeadline);

}  // namespace vscsim::agent

// Moving frames, and the fds that ride with them, over the agent's own
// connections: the host's port and the socketpairs to its worker processes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "slots.h"
#include "vscsim/agent/framing.h"

namespace vscsim::agent {

// Frames between the agent's own processes wrap a message of at most
// kMaxFramePayload with a few bytes of their own.
inline constexpr std::uint32_t kInternalFrameLimit = kMaxFramePayload + (64u << 10);

// Reads what `fd` has (one recvmsg, or read(2) if it is not a socket) into
// `decoder`, and the fds that came with it into `fds`. Returns the bytes read,
// 0 at end of file, or -errno (-EAGAIN: nothing there now).
[[nodiscard]] ssize_t receive(int fd, FrameDecoder& decoder, std::deque<UniqueFd>& fds);

// The next `count` received fds, or fewer if fewer came (a peer that broke the rule).
[[nodiscard]] std::vector<UniqueFd> take_fds(std::deque<UniqueFd>& fds, std::size_t count);

// Frames waiting to go out on a non-blocking fd; flush() sends what the fd takes.
class OutQueue {
 public:
  void push(std::string_view payload, std::vector<UniqueFd> fds = {});
  // Sends until the fd would block or the queue is empty. Returns 0 or an errno.
  [[nodiscard]] int flush(int fd);
  [[nodiscard]] bool empty() const { return frames_.empty(); }
  void clear() { frames_.clear(); }

 private:
  struct Pending {
    std::string bytes;  // header and payload
    std::vector<UniqueFd> fds;
    std::size_t sent = 0;
  };
  std::deque<Pending> frames_;
};

}  // namespace vscsim::agent

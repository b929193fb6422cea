// The host's end of the guest agent (harness/agent/README.md): a connection to
// the agent's port (QemuGuest::agent_socket(), the launcher's Unix socket for
// the virtio-serial port org.vscsim.agent.0) that sends Runs without waiting
// and hands out their answers as they come, so one harness thread can keep
// many guest threads busy and enforce its own deadlines.
//
// Thread-safe: any thread may submit, wait for an id, or take whichever
// answer comes next. A reader thread owns the socket's reading side. An
// answer is handed out once: to wait(id), or to the first next() that finds
// it while nobody waits for its id.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "vscsim/agent.pb.h"
#include "vscsim/base/result.h"

namespace vscsim::agent {

enum class ClientErrorKind {
  kConnect,     // the socket could not be reached
  kTimeout,     // the agent did not answer (or take a frame) in time
  kClosed,      // the connection is closed; nothing more will come
  kProtocol,    // the agent refused a message (ProtocolError), or sent bytes that are not a frame
  kNotPending,  // no such id is outstanding, or nothing is outstanding at all
};

struct ClientError {
  ClientErrorKind kind = ClientErrorKind::kClosed;
  std::string message;
  std::uint64_t id = 0;  // the message it concerns, when there is one
};

template <class T>
using ClientResult = vscsim::Result<T, ClientError>;

// The error's message, or "" for a success: for log lines and test messages
// that are built whether or not the call failed.
template <class T>
[[nodiscard]] std::string error_text(const ClientResult<T>& result) {
  return result.ok() ? std::string() : result.error().message;
}

// An answer with the id of the Run it answers.
struct Completion {
  std::uint64_t id = 0;
  OpResult result;
};

using Deadline = std::chrono::steady_clock::time_point;

class AgentClient {
 public:
  // Connects to the agent's Unix socket, retrying until `timeout` (QEMU
  // creates it as it starts). The agent itself may come later: see hello().
  [[nodiscard]] static ClientResult<std::unique_ptr<AgentClient>> connect(const std::filesystem::path& socket,
                                                                          std::chrono::milliseconds timeout);
  // Over an already connected stream (tests: a socketpair end); takes it.
  [[nodiscard]] static std::unique_ptr<AgentClient> adopt(int fd);

  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Hello until the agent answers or `timeout` passes (kTimeout: the agent is
  // not answering; the guest may not have started it).
  [[nodiscard]] ClientResult<HelloReply> hello(std::chrono::milliseconds timeout);
  // Sends `run` and returns its id at once. Fails only if the message cannot
  // be sent (over the frame limit, the connection closed, or the port not
  // taking bytes within `write_timeout`, which leaves the connection unusable).
  [[nodiscard]] ClientResult<std::uint64_t> submit(const Run& run);
  // The answer to `id`, once it comes, or kTimeout at `deadline` (the run
  // stays outstanding: wait again, or take it with next()).
  [[nodiscard]] ClientResult<OpResult> wait(std::uint64_t id, Deadline deadline);
  // Whichever outstanding answer comes first and nobody waits for by id; an
  // answer that arrived earlier comes first. kNotPending if none is outstanding.
  [[nodiscard]] ClientResult<Completion> next(Deadline deadline);
  // submit() and wait().
  [[nodiscard]] ClientResult<OpResult> run(const Run& run, std::chrono::milliseconds timeout);
  // Ends every process and thread the agent started (agent.proto Shutdown).
  [[nodiscard]] ClientResult<OpResult> shutdown(std::chrono::milliseconds timeout);

  // ProtocolErrors the agent sent about no particular message (id 0), oldest first.
  [[nodiscard]] std::vector<std::string> protocol_errors() const;
  // Answers whose id was not outstanding (e.g. for a host that connected earlier).
  [[nodiscard]] std::uint64_t stray_answers() const;
  // Closes the connection; waiters get kClosed. Also done by the destructor.
  void close();

  // How long submit() may wait for the port to take a frame.
  void set_write_timeout(std::chrono::milliseconds timeout) { write_timeout_ = timeout; }

 private:
  explicit AgentClient(int fd);
  using Answer = std::variant<HelloReply, OpResult, ProtocolError>;
  struct Arrived {
    std::uint64_t order = 0;
    Answer answer;
  };

  ClientResult<std::uint64_t> send(HostMessage& message);
  ClientResult<OpResult> send_and_wait(HostMessage& message, std::chrono::milliseconds timeout);
  void read_loop();
  void broken(ClientErrorKind kind, const std::string& message);
  ClientError closed_error(std::uint64_t id) const;
  ClientResult<OpResult> to_result(std::uint64_t id, Answer answer) const;

  int fd_ = -1;
  std::chrono::milliseconds write_timeout_{std::chrono::seconds(30)};
  std::mutex write_mu_;  // one frame at a time
  std::thread reader_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable changed_;
  std::uint64_t next_id_;
  std::uint64_t arrivals_ = 0;
  std::set<std::uint64_t> outstanding_;       // sent, not yet answered
  std::multiset<std::uint64_t> waited_for_;   // ids someone is in wait() for
  std::map<std::uint64_t, Arrived> arrived_;  // answered, not yet handed out
  std::vector<std::string> unsolicited_errors_;
  std::uint64_t stray_answers_ = 0;
  std::optional<ClientError> broken_;  // set once the connection is unusable
};

}  // namespace vscsim::agent

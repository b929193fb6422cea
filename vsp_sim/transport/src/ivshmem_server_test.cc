#define BOOST_TEST_MODULE transport_ivshmem_server
#include <boost/test/unit_test.hpp>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "vscsim/transport/ivshmem_server.h"
#include "vscsim/transport/shared_region.h"

namespace vt = vscsim::transport;
namespace layout = vscsim::transport::layout;
using namespace std::chrono_literals;

namespace {

// One server-to-client protocol message as a client sees it.
struct Message {
  std::int64_t value = 0;
  vt::UniqueFd fd;  // invalid when the message carried none
};

// A client that speaks the ivshmem protocol the way QEMU's ivshmem-doorbell
// does, written independently of the server's own encoding.
class FakePeer {
 public:
  explicit FakePeer(const std::filesystem::path& path) : socket_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    BOOST_REQUIRE(socket_);
    BOOST_REQUIRE_EQUAL(::connect(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  }

  // nullopt on timeout or EOF (eof() tells which).
  std::optional<Message> read(std::chrono::milliseconds timeout = 5000ms) {
    pollfd p{socket_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return std::nullopt;
    }
    unsigned char bytes[8] = {};
    iovec iov{bytes, sizeof(bytes)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t got = ::recvmsg(socket_.get(), &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    if (got == 0) {
      eof_ = true;
      return std::nullopt;
    }
    BOOST_REQUIRE_EQUAL(got, 8);
    Message m;
    for (int i = 7; i >= 0; --i) {
      m.value = static_cast<std::int64_t>((static_cast<std::uint64_t>(m.value) << 8) | bytes[i]);
    }
    int fds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        m.fd.reset(fd);
        fds += static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      }
    }
    BOOST_REQUIRE_LE(fds, 1);  // the protocol carries at most one fd per message
    return m;
  }

  // Reads version, id, shm and then connect notifications until the peer has
  // its own `vectors` eventfds, checking the order the spec prescribes.
  void handshake(std::uint16_t vectors) {
    auto version = read();
    BOOST_REQUIRE(version);
    BOOST_TEST(version->value == 0);
    BOOST_TEST(!version->fd);
    auto id = read();
    BOOST_REQUIRE(id);
    BOOST_TEST(!id->fd);
    BOOST_REQUIRE(id->value >= 0 && id->value <= 0xffff);
    id_ = id->value;
    auto shm = read();
    BOOST_REQUIRE(shm);
    BOOST_TEST(shm->value == -1);
    BOOST_REQUIRE(shm->fd);
    shm_ = std::move(shm->fd);
    while (fds_[id_].size() < vectors) {
      auto m = read();
      BOOST_REQUIRE(m);
      BOOST_REQUIRE_MESSAGE(m->fd, "no fd with connect message " << m->value);
      if (m->value != id_) {
        BOOST_REQUIRE_MESSAGE(fds_[id_].empty(), "peer notification after interrupt setup began");
      }
      fds_[m->value].push_back(std::move(m->fd));
    }
  }

  const layout::RegionHeader& map_header() {
    struct stat st {};
    BOOST_REQUIRE_EQUAL(::fstat(shm_.get(), &st), 0);
    size_ = static_cast<std::size_t>(st.st_size);
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, shm_.get(), 0);
    BOOST_REQUIRE(base != MAP_FAILED);
    base_ = static_cast<std::byte*>(base);
    return *reinterpret_cast<const layout::RegionHeader*>(base_);
  }

  vt::MailboxView guest_to_host() const {
    return {reinterpret_cast<layout::MailboxControl*>(base_ + layout::kG2hControlOffset),
            base_ + layout::kG2hSlotsOffset};
  }

  // What the Doorbell register does in QEMU: write 1 to peer's eventfd[vector].
  void ring(std::int64_t peer, std::uint16_t vector) {
    const std::uint64_t one = 1;
    BOOST_REQUIRE_GT(fds_[peer].size(), vector);
    BOOST_REQUIRE_EQUAL(::write(fds_[peer][vector].get(), &one, sizeof(one)), 8);
  }

  // What QEMU's vector notifier does: true if our eventfd fired in time.
  bool interrupted(std::uint16_t vector, std::chrono::milliseconds timeout) {
    pollfd p{fds_[id_].at(vector).get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return false;
    }
    std::uint64_t count = 0;
    return ::read(p.fd, &count, sizeof(count)) == 8 && count > 0;
  }

  ~FakePeer() {
    if (base_ != nullptr) {
      ::munmap(base_, size_);
    }
  }

  void close() { socket_.reset(); }
  void send_junk() {
    const char junk[4] = {'j', 'u', 'n', 'k'};
    BOOST_REQUIRE_EQUAL(::send(socket_.get(), junk, sizeof(junk), MSG_NOSIGNAL), 4);
  }
  [[nodiscard]] bool eof() const { return eof_; }
  [[nodiscard]] std::int64_t id() const { return id_; }
  [[nodiscard]] int shm_fd() const { return shm_.get(); }
  std::map<std::int64_t, std::vector<vt::UniqueFd>>& fds() { return fds_; }

 private:
  vt::UniqueFd socket_;
  vt::UniqueFd shm_;
  std::int64_t id_ = -1;
  std::map<std::int64_t, std::vector<vt::UniqueFd>> fds_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  bool eof_ = false;
};

// Collects server callbacks (made on the loop thread) for the test thread.
class Recorder {
 public:
  vt::ServerCallbacks callbacks() {
    return {
        [this](vt::PeerId id) { push(fmt_event("connected", id)); },
        [this](vt::PeerId id) { push(fmt_event("disconnected", id)); },
        [this](vt::PeerId id, std::uint16_t vector) {
          if (on_signal) {
            on_signal(id, vector);
          }
          push(fmt_event("signal", id, vector));
        },
    };
  }

  bool wait_for(const std::string& event, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (*it == event) {
          events_.erase(it);
          return true;
        }
      }
      return false;
    });
  }

  std::function<void(vt::PeerId, std::uint16_t)> on_signal;  // set before the loop starts

  static std::string fmt_event(const std::string& what, vt::PeerId id, int vector = -1) {
    return what + " " + std::to_string(id) + (vector >= 0 ? " " + std::to_string(vector) : "");
  }

 private:
  void push(std::string event) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

std::filesystem::path temp_socket(const char* name) {
  auto path = std::filesystem::temp_directory_path() / (std::string("vscsim-") + name + "-" +
                                                        std::to_string(::getpid()) + ".sock");
  std::filesystem::remove(path);
  return path;
}

// A server with its loop on a thread, as the daemon runs it.
struct ServerFixture {
  explicit ServerFixture(const char* name)
      : path(temp_socket(name)), region(vt::SharedRegion::create(layout::kDefaultRegionSize, 0)) {}

  void start(std::size_t max_guests = 1) {
    vt::ServerOptions options;
    options.socket_path = path;
    options.shm_fd = region.fd();
    options.max_guests = max_guests;
    server = std::make_unique<vt::IvshmemServer>(options, recorder.callbacks());
    loop = std::thread([this] { server->run(); });
  }

  void stop_loop() {
    if (loop.joinable()) {
      server->stop();
      loop.join();
    }
  }

  ~ServerFixture() {
    stop_loop();
    server.reset();
    std::filesystem::remove(path);
  }

  std::filesystem::path path;
  vt::SharedRegion region;
  Recorder recorder;
  std::unique_ptr<vt::IvshmemServer> server;
  std::thread loop;
};

}  // namespace

BOOST_AUTO_TEST_CASE(handshake_sends_version_id_shm_host_eventfds_then_own_eventfds) {
  ServerFixture f("handshake");
  f.start();
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_TEST(peer.id() != 0);  // 0 is the host peer
  // Exactly: host's two eventfds, then our own two; nothing else yet.
  BOOST_TEST(peer.fds().size() == 2U);
  BOOST_TEST(peer.fds()[0].size() == 2U);
  BOOST_TEST(peer.fds()[peer.id()].size() == 2U);
  BOOST_TEST(!peer.read(100ms));
  BOOST_TEST(f.recorder.wait_for(Recorder::fmt_event("connected", static_cast<vt::PeerId>(peer.id()))));
  BOOST_TEST(f.server->peers() == std::vector<vt::PeerId>{static_cast<vt::PeerId>(peer.id())});
  // The peer is this process (the daemon finds QEMU's guest RAM through it).
  BOOST_TEST(f.server->peer_pid(static_cast<vt::PeerId>(peer.id())).value_or(0) == ::getpid());
  BOOST_TEST(!f.server->peer_pid(static_cast<vt::PeerId>(peer.id() + 7)).has_value());

  // The shared-memory fd is the server's region: same size, same bytes.
  const layout::RegionHeader& header = peer.map_header();
  BOOST_TEST(header.magic == layout::kMagic);
  BOOST_TEST(header.region_size == f.region.size());
  f.region.beat();
  BOOST_TEST(header.heartbeat == f.region.header()->heartbeat);
}

BOOST_AUTO_TEST_CASE(guest_message_and_doorbell_reach_the_host) {
  ServerFixture f("doorbell");
  f.region.reset_for_guest(1);
  vt::MailboxConsumer host_inbox(f.region.guest_to_host());
  // Written on the loop thread, checked after join (no Boost.Test assertions
  // off the main thread).
  std::vector<std::uint32_t> received;
  bool drain_ok = true;
  f.recorder.on_signal = [&](vt::PeerId, std::uint16_t vector) {
    if (vector == layout::kVectorControl) {
      auto result = host_inbox.drain(layout::kSlotCount, [&](std::span<const std::byte> m) {
        std::uint32_t msgtype = 0;
        std::memcpy(&msgtype, m.data(), sizeof(msgtype));
        received.push_back(msgtype);
      });
      drain_ok = drain_ok && result.status == vt::MailboxStatus::kOk;
    }
  };
  f.start();
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_REQUIRE_EQUAL(peer.id(), 1);
  peer.map_header();

  // A CHANNELMSG_REQUESTOFFERS (3) header, then the doorbell for vector 0.
  vt::MailboxProducer guest_outbox(peer.guest_to_host());
  std::vector<std::byte> request_offers(8, std::byte{0});
  request_offers[0] = std::byte{3};
  BOOST_REQUIRE(guest_outbox.post(request_offers).ok());
  peer.ring(0, layout::kVectorControl);
  BOOST_TEST(f.recorder.wait_for("signal 1 0"));
  peer.ring(0, layout::kVectorChannel);
  BOOST_TEST(f.recorder.wait_for("signal 1 1"));
  f.stop_loop();
  BOOST_TEST(drain_ok);
  BOOST_TEST(received == std::vector<std::uint32_t>{3});
}

BOOST_AUTO_TEST_CASE(signal_guest_fires_only_that_vectors_eventfd) {
  ServerFixture f("signal");
  f.start();
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  BOOST_TEST(f.server->signal_guest(1, layout::kVectorChannel));
  BOOST_TEST(peer.interrupted(layout::kVectorChannel, 2000ms));
  BOOST_TEST(!peer.interrupted(layout::kVectorControl, 50ms));
  BOOST_TEST(f.server->signal_guest(1, layout::kVectorControl));
  BOOST_TEST(peer.interrupted(layout::kVectorControl, 2000ms));
}

BOOST_AUTO_TEST_CASE(signal_guest_rejects_unknown_peer_and_vector) {
  ServerFixture f("signal-bad");
  f.start();
  BOOST_TEST(!f.server->signal_guest(1, 0));
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  BOOST_TEST(!f.server->signal_guest(1, 2));
  BOOST_TEST(!f.server->signal_guest(0, 0));  // the host is not a guest
}

BOOST_AUTO_TEST_CASE(two_peers_learn_of_each_other_and_of_a_departure) {
  ServerFixture f("two");
  f.start(2);
  FakePeer first(f.path);
  first.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  FakePeer second(f.path);
  second.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 2"));
  // The newcomer was told about the host and the first guest.
  BOOST_TEST(second.fds()[0].size() == 2U);
  BOOST_TEST(second.fds()[1].size() == 2U);
  // The first guest hears of the newcomer: two connect messages with fds.
  for (int v = 0; v < 2; ++v) {
    auto m = first.read();
    BOOST_REQUIRE(m);
    BOOST_TEST(m->value == 2);
    BOOST_TEST(static_cast<bool>(m->fd));
    first.fds()[2].push_back(std::move(m->fd));
  }
  // Guests can interrupt each other through those fds (the fds are the same).
  first.ring(2, 1);
  BOOST_TEST(second.interrupted(1, 2000ms));
  // Each guest has its own set of host eventfds: the host knows who rang.
  second.ring(0, 0);
  BOOST_TEST(f.recorder.wait_for("signal 2 0"));
  first.ring(0, 1);
  BOOST_TEST(f.recorder.wait_for("signal 1 1"));

  first.close();
  BOOST_TEST(f.recorder.wait_for("disconnected 1"));
  auto gone = second.read();
  BOOST_REQUIRE(gone);
  BOOST_TEST(gone->value == 1);
  BOOST_TEST(!gone->fd);  // no fd: a disconnect notification
  BOOST_TEST(f.server->peers() == std::vector<vt::PeerId>{2});
  BOOST_TEST(!f.server->signal_guest(1, 0));
}

BOOST_AUTO_TEST_CASE(a_new_peer_gets_a_fresh_id_after_one_leaves) {
  ServerFixture f("reconnect");
  f.start();
  {
    FakePeer peer(f.path);
    peer.handshake(2);
    BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  }
  BOOST_REQUIRE(f.recorder.wait_for("disconnected 1"));
  FakePeer again(f.path);
  again.handshake(2);
  BOOST_TEST(again.id() == 2);
  BOOST_TEST(f.recorder.wait_for("connected 2"));
}

BOOST_AUTO_TEST_CASE(peers_beyond_max_guests_are_closed_without_a_handshake) {
  ServerFixture f("max");
  f.start(1);
  FakePeer first(f.path);
  first.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  FakePeer second(f.path);
  BOOST_TEST(!second.read(2000ms));
  BOOST_TEST(second.eof());
  BOOST_TEST(f.server->peers().size() == 1U);
}

BOOST_AUTO_TEST_CASE(a_peer_that_sends_data_is_disconnected) {
  ServerFixture f("talker");
  f.start();
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  // The connection is one-way; QEMU never writes to it.
  peer.send_junk();
  BOOST_TEST(f.recorder.wait_for("disconnected 1"));
  BOOST_TEST(f.server->peers().empty());
  BOOST_TEST(!peer.read(2000ms));
  BOOST_TEST(peer.eof());
}

BOOST_AUTO_TEST_CASE(shutdown_announces_host_departure_and_removes_the_socket) {
  ServerFixture f("shutdown");
  f.start();
  FakePeer peer(f.path);
  peer.handshake(2);
  BOOST_REQUIRE(f.recorder.wait_for("connected 1"));
  f.stop_loop();
  f.server->shutdown();
  auto gone = peer.read();
  BOOST_REQUIRE(gone);
  BOOST_TEST(gone->value == 0);  // the host peer's id, without fd
  BOOST_TEST(!gone->fd);
  BOOST_TEST(!peer.read(1000ms));
  BOOST_TEST(peer.eof());
  BOOST_TEST(!std::filesystem::exists(f.path));
}

BOOST_AUTO_TEST_CASE(a_stale_socket_is_replaced_but_a_live_one_is_refused) {
  auto path = temp_socket("stale");
  {
    // A socket file nobody listens on, as a crashed simulator leaves it.
    vt::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    BOOST_REQUIRE_EQUAL(::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  }
  BOOST_REQUIRE(std::filesystem::exists(path));
  auto region = vt::SharedRegion::create(layout::kDefaultRegionSize, 0);
  vt::ServerOptions options;
  options.socket_path = path;
  options.shm_fd = region.fd();
  {
    vt::IvshmemServer live(options, {});
    BOOST_CHECK_THROW(vt::IvshmemServer(options, {}), std::system_error);
    BOOST_TEST(std::filesystem::exists(path));  // the refused one did not remove it
  }
  BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_CASE(a_path_that_is_not_a_socket_is_never_replaced) {
  auto path = temp_socket("regular");
  { std::FILE* file = std::fopen(path.c_str(), "w"); BOOST_REQUIRE(file); std::fclose(file); }
  auto region = vt::SharedRegion::create(layout::kDefaultRegionSize, 0);
  vt::ServerOptions options;
  options.socket_path = path;
  options.shm_fd = region.fd();
  BOOST_CHECK_THROW(vt::IvshmemServer(options, {}), std::invalid_argument);
  BOOST_TEST(std::filesystem::is_regular_file(path));
  std::filesystem::remove(path);
}

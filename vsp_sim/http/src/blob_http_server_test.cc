#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http_server_thread.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/http/blob_http_server.h"

namespace vscsim::http {
namespace {

using testing::ServerThread;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string("<none>") : it->second;
  }
};

// A blocking loopback client that writes raw bytes and reads answers the
// simple way (status line, headers, Content-Length bytes). Every read gives
// up after 10 s, so a server that stalls fails the test instead of hanging it.
class Peer {
 public:
  explicit Peer(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (!fd_) throw std::runtime_error("socket");
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect");
    }
  }

  // False if the server has closed the connection (EPIPE, ECONNRESET).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One answer; status 0 if the connection ended (or timed out) first.
  Reply read_reply(bool to_head = false) {
    Reply reply;
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return reply;
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) throw std::runtime_error("bad status line: " + status_line);
    reply.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next == std::string::npos ? next : next - line_end - 2);
      const std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = line.substr(colon + 2);
      line_end = next;
    }
    const std::size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
    if (to_head) return reply;
    while (buffer_.size() < length) {
      if (!fill()) {
        reply.status = 0;
        return reply;
      }
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return reply;
  }

  // Whether the server ends the connection (EOF) within the read timeout.
  bool sees_close() {
    while (fill()) {
    }
    return eof_;
  }

 private:
  bool fill() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  transport::UniqueFd fd_;
  std::string buffer_;
  bool eof_ = false;
};

std::string request(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view extra_headers = {}) {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (method == "PUT") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

Reply exchange(Peer& peer, std::string_view method, std::string_view target, std::string_view body = {}) {
  if (!peer.send(request(method, target, body))) return Reply{};
  return peer.read_reply(method == "HEAD");
}

// Bytes that differ at every offset, so a shifted or truncated copy shows.
std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

std::string stored(blobstore::Store& store, std::string_view container, std::string_view blob) {
  auto info = store.stat(container, blob);
  if (!info) return "<missing>";
  std::string bytes(info->size, '\0');
  auto got = store.get(container, blob, {}, std::as_writable_bytes(std::span(bytes.data(), bytes.size())));
  return got ? bytes : "<unreadable>";
}

struct Fixture {
  std::unique_ptr<blobstore::Store> store = blobstore::make_memory_store();
};

BOOST_AUTO_TEST_SUITE(blob_http_server)

BOOST_AUTO_TEST_CASE(listen_addresses_must_be_loopback) {
  for (std::string_view good : {"127.0.0.1:0", "127.3.4.5:8080", "localhost:1", "[::1]:0", "127.0.0.1:65535"}) {
    BOOST_TEST_INFO("address: " << good);
    BOOST_TEST(parse_listen_address(good).ok());
  }
  const auto local = parse_listen_address("localhost:99");
  BOOST_TEST_REQUIRE(local.ok());
  BOOST_TEST(local->host == "127.0.0.1");
  BOOST_TEST(local->port == 99u);
  struct Bad {
    std::string_view text, says;
  };
  for (const Bad& bad : {Bad{"0.0.0.0:80", "not a loopback"}, Bad{"10.0.2.2:80", "not a loopback"},
                         Bad{"[::]:80", "not a loopback"}, Bad{"example.com:80", "not a loopback"},
                         Bad{"::1:80", "in brackets"}, Bad{"127.0.0.1:65536", "port"}, Bad{"127.0.0.1:", "port"},
                         Bad{"127.0.0.1:x", "port"}, Bad{"127.0.0.1", "HOST:PORT"}, Bad{"[::1]80", "[IPV6]:PORT"}}) {
    BOOST_TEST_INFO("address: " << bad.text);
    const auto parsed = parse_listen_address(bad.text);
    BOOST_TEST_REQUIRE(!parsed.ok());
    BOOST_TEST(parsed.error().find(bad.says) != std::string::npos, "message: " << parsed.error());
  }
  auto store = blobstore::make_memory_store();
  auto refused = BlobHttpServer::listen(*store, ServerOptions{.address = {"192.0.2.1", 0, false}});
  BOOST_TEST(!refused.ok());
}

BOOST_FIXTURE_TEST_CASE(round_trips_are_byte_exact_and_shared_with_the_store, Fixture) {
  ServerThread server(*store);
  Peer peer(server.port());
  BOOST_TEST(exchange(peer, "PUT", "/bench").status == 201);
  const std::vector<std::size_t> sizes = {0, 1, 4096, std::size_t{1} << 20};
  for (std::size_t size : sizes) {
    BOOST_TEST_INFO("size " << size);
    const std::string name = "/bench/dir/blob-" + std::to_string(size);
    const std::string first = pattern(size, 1), second = pattern(size, 2);
    const Reply put1 = exchange(peer, "PUT", name, first);
    BOOST_TEST(put1.status == 201);
    BOOST_TEST(put1.header("x-generation") == "1");
    const Reply put2 = exchange(peer, "PUT", name, second);
    BOOST_TEST(put2.header("x-generation") == "2");
    const Reply get = exchange(peer, "GET", name);
    BOOST_TEST(get.status == 200);
    BOOST_TEST(get.header("x-generation") == "2");
    BOOST_TEST(get.header("content-type") == "application/octet-stream");
    BOOST_TEST(get.body.size() == size);
    BOOST_TEST((get.body == second));
    const Reply head = exchange(peer, "HEAD", name);
    BOOST_TEST(head.status == 200);
    BOOST_TEST(head.header("content-length") == std::to_string(size));
  }
  // The next request on the same connection still parses: HEAD sent no body.
  BOOST_TEST(exchange(peer, "GET", "/bench/dir/blob-1").body == pattern(1, 2));
  server.stop();
  // What went in over HTTP is what the blob device reads from the store.
  for (std::size_t size : sizes) {
    BOOST_TEST((stored(*store, "bench", "dir/blob-" + std::to_string(size)) == pattern(size, 2)));
  }
  BOOST_TEST(server.server().counters().connections == 1u);  // keep-alive throughout
}

BOOST_FIXTURE_TEST_CASE(blobs_put_into_the_store_are_served, Fixture) {
  BOOST_TEST_REQUIRE(store->create_container("c").ok());
  const std::string bytes = pattern(5000, 9);
  BOOST_TEST_REQUIRE(store->put("c", "a/b c", std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
  ServerThread server(*store);
  Peer peer(server.port());
  const Reply get = exchange(peer, "GET", "/c/a%2Fb%20c");  // percent-decoded, '/' kept in the name
  BOOST_TEST(get.status == 200);
  BOOST_TEST((get.body == bytes));
}

BOOST_FIXTURE_TEST_CASE(each_error_has_its_status_and_a_one_line_reason, Fixture) {
  auto small = blobstore::make_memory_store(blobstore::Limits{.capacity_bytes = 100, .max_objects = 100});
  ServerThread server(*small, ServerOptions{.limits = {.max_head_bytes = kDefaultMaxHeadBytes, .max_body_bytes = 1000}});
  struct Case {
    std::string name, method, target, body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"create", "PUT", "/c", "", 201, ""},
      {"create twice", "PUT", "/c", "", 409, "exists"},
      {"container with a body", "PUT", "/d", "x", 400, "no body"},
      {"bad container name", "PUT", "/Upper", "", 400, "container"},
      {"missing blob", "GET", "/c/nothing", "", 404, "no blob"},
      {"missing container", "GET", "/none/b", "", 404, "none"},
      {"empty blob name", "PUT", "/c/", "x", 400, "blob"},
      {"blob name with NUL", "PUT", "/c/a%00b", "x", 400, "blob"},
      {"bad escape", "GET", "/c/a%zz", "", 400, "hex digits"},
      {"query", "GET", "/c/b?x=1", "", 400, "query"},
      {"no container", "GET", "/", "", 400, "no container"},
      {"post to a blob", "POST", "/c/b", "", 405, "not POST"},
      {"get a container", "GET", "/c", "", 405, "PUT or DELETE"},
      {"store full", "PUT", "/c/big", std::string(101, 'x'), 507, ""},
      {"put fits", "PUT", "/c/small", "tiny", 201, ""},
      {"container not empty", "DELETE", "/c", "", 409, ""},
      {"delete blob", "DELETE", "/c/small", "", 204, ""},
      {"delete missing blob", "DELETE", "/c/small", "", 404, ""},
      {"delete container", "DELETE", "/c", "", 204, ""},
      {"delete missing container", "DELETE", "/c", "", 404, ""},
  };
  Peer peer(server.port());
  for (const Case& c : cases) {
    BOOST_TEST_INFO("case: " << c.name);
    const Reply reply = exchange(peer, c.method, c.target, c.body);
    BOOST_TEST(reply.status == c.status);
    if (c.status >= 400) {
      BOOST_TEST(reply.header("content-type") == "text/plain; charset=utf-8");
      BOOST_TEST_REQUIRE(!reply.body.empty());
      BOOST_TEST(reply.body.find('\n') == reply.body.size() - 1, "body: " << reply.body);
      BOOST_TEST(reply.body.find(c.says) != std::string::npos, "body: " << reply.body);
    }
    if (c.status == 405) BOOST_TEST(reply.header("allow") != "<none>");
    if (c.status == 204) BOOST_TEST(reply.header("content-length") == "<none>");
  }
  // Store errors keep the connection: every case went over one connection.
  server.stop();
  BOOST_TEST(server.server().counters().connections == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_blob_put_without_a_length_is_411, Fixture) {
  ServerThread server(*store);
  Peer peer(server.port());
  BOOST_TEST(peer.send("PUT /c/b HTTP/1.1\r\nHost: h\r\n\r\n"));
  const Reply reply = peer.read_reply();
  BOOST_TEST(reply.status == 411);
  BOOST_TEST(reply.body == "a blob PUT needs a Content-Length header\n");
}

// Requests the parser refuses: answered, and then that connection is closed.
BOOST_FIXTURE_TEST_CASE(malformed_requests_are_answered_and_closed, Fixture) {
  ServerThread server(*store, ServerOptions{.limits = {.max_head_bytes = kDefaultMaxHeadBytes, .max_body_bytes = 1000}});
  struct Case {
    std::string bytes;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"garbage\r\n\r\n", 400, "request line"},
      {"PUT /c/b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501, "chunked"},
      {"PUT /c/b HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 413, "over the limit"},
      {"GET /c/b HTTP/1.1\r\nHost: h\r\nX: " + std::string(20000, 'x') + "\r\n\r\n", 431, "16384"},
      {"GET /c/b HTTP/3.0\r\nHost: h\r\n\r\n", 505, "HTTP version"},
      {"GET /c/b HTTP/1.1\r\n\r\n", 400, "Host"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_INFO("request: " << c.bytes.substr(0, 40));
    Peer peer(server.port());
    peer.send(c.bytes);
    const Reply reply = peer.read_reply();
    BOOST_TEST(reply.status == c.status);
    BOOST_TEST(reply.header("connection") == "close");
    BOOST_TEST(reply.body.find(c.says) != std::string::npos, "body: " << reply.body);
    BOOST_TEST(peer.sees_close());
  }
  server.stop();
  BOOST_TEST(server.server().counters().refused == cases.size());
}

BOOST_FIXTURE_TEST_CASE(a_malformed_connection_does_not_disturb_a_good_one, Fixture) {
  ServerThread server(*store);
  Peer good(server.port());
  BOOST_TEST(exchange(good, "PUT", "/c").status == 201);
  // Half a request on the good connection, then a bad connection in between.
  const std::string put = request("PUT", "/c/b", "payload");
  BOOST_TEST(good.send(put.substr(0, 20)));
  Peer bad(server.port());
  bad.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n");  // a TLS hello
  BOOST_TEST(bad.read_reply().status == 400);
  BOOST_TEST(bad.sees_close());
  BOOST_TEST(good.send(put.substr(20)));
  BOOST_TEST(good.read_reply().status == 201);
  BOOST_TEST(exchange(good, "GET", "/c/b").body == "payload");
}

BOOST_FIXTURE_TEST_CASE(pipelined_requests_are_answered_in_order, Fixture) {
  ServerThread server(*store);
  Peer peer(server.port());
  std::string all = request("PUT", "/p");
  for (int i = 0; i < 40; ++i) all += request("PUT", "/p/b" + std::to_string(i), pattern(100 + i, i));
  for (int i = 0; i < 40; ++i) all += request("GET", "/p/b" + std::to_string(i));
  all += request("GET", "/p/missing");
  BOOST_TEST(peer.send(all));  // one write: more than one poll's worth of requests
  BOOST_TEST(peer.read_reply().status == 201);
  for (int i = 0; i < 40; ++i) BOOST_TEST(peer.read_reply().status == 201);
  for (int i = 0; i < 40; ++i) {
    const Reply r = peer.read_reply();
    BOOST_TEST(r.status == 200);
    BOOST_TEST((r.body == pattern(100 + i, i)));
  }
  BOOST_TEST(peer.read_reply().status == 404);
}

BOOST_FIXTURE_TEST_CASE(connection_close_is_honoured, Fixture) {
  ServerThread server(*store);
  Peer peer(server.port());
  BOOST_TEST(peer.send(request("PUT", "/c", "", "Connection: close\r\n")));
  const Reply reply = peer.read_reply();
  BOOST_TEST(reply.status == 201);
  BOOST_TEST(reply.header("connection") == "close");
  BOOST_TEST(peer.sees_close());

  Peer old(server.port());  // HTTP/1.0 closes unless asked not to
  BOOST_TEST(old.send("GET /c/x HTTP/1.0\r\n\r\n"));
  BOOST_TEST(old.read_reply().status == 404);
  BOOST_TEST(old.sees_close());
}

BOOST_FIXTURE_TEST_CASE(expect_continue_gets_100_before_the_body, Fixture) {
  ServerThread server(*store);
  Peer peer(server.port());
  BOOST_TEST(exchange(peer, "PUT", "/c").status == 201);
  BOOST_TEST(peer.send("PUT /c/b HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  BOOST_TEST(peer.read_reply().status == 100);
  BOOST_TEST(peer.send("abc"));
  BOOST_TEST(peer.read_reply().status == 201);
}

BOOST_FIXTURE_TEST_CASE(sixteen_concurrent_connections_each_round_trip, Fixture) {
  BOOST_TEST_REQUIRE(store->create_container("many").ok());
  ServerThread server(*store);
  constexpr int kClients = 16;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      try {
        Peer peer(server.port());
        for (int i = 0; i < 20; ++i) {
          const std::string name = "/many/t" + std::to_string(t);
          const std::string bytes = pattern(1000 + 997 * static_cast<std::size_t>(i), t * 100 + i);
          if (exchange(peer, "PUT", name, bytes).status != 201) ++failures;
          if (exchange(peer, "GET", name).body != bytes) ++failures;
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& c : clients) c.join();
  BOOST_TEST(failures.load() == 0);
  server.stop();
  BOOST_TEST(server.server().counters().connections == std::uint64_t{kClients});
  BOOST_TEST(server.server().counters().requests == std::uint64_t{kClients * 40});
}

BOOST_FIXTURE_TEST_CASE(a_client_leaving_mid_body_changes_nothing, Fixture) {
  BOOST_TEST_REQUIRE(store->create_container("c").ok());
  ServerThread server(*store);
  {
    Peer leaver(server.port());
    BOOST_TEST(leaver.send("PUT /c/half HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + pattern(5000, 3)));
  }  // closed with 95000 bytes still due
  Peer peer(server.port());
  BOOST_TEST(exchange(peer, "GET", "/c/half").status == 404);
  BOOST_TEST(exchange(peer, "PUT", "/c/whole", "x").status == 201);
  server.stop();
  BOOST_TEST(server.server().counters().dropped >= 1u);
  BOOST_TEST(server.server().connections() == 1u);  // the leaver's connection is gone
  BOOST_TEST(stored(*store, "c", "half") == "<missing>");
}

BOOST_FIXTURE_TEST_CASE(a_client_that_never_reads_does_not_stall_the_others, Fixture) {
  BOOST_TEST_REQUIRE(store->create_container("c").ok());
  const std::string big = pattern(std::size_t{1} << 20, 5);
  BOOST_TEST_REQUIRE(store->put("c", "big", std::as_bytes(std::span(big.data(), big.size()))).ok());
  ServerThread server(*store);
  Peer hog(server.port());
  std::string flood;
  for (int i = 0; i < 64; ++i) flood += request("GET", "/c/big");
  BOOST_TEST(hog.send(flood));  // 64 MiB of answers asked for, none read
  Peer peer(server.port());
  for (int i = 0; i < 5; ++i) BOOST_TEST((exchange(peer, "GET", "/c/big").body == big));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::http

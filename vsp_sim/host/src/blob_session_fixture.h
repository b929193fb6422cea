// Test fixture: the blob device behind a real Session with the in-process
// guest (test_guest_fixture.h) on relid 1, the guest sending requests as
// az_blob does and reading completions back.
#pragma once

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "blob_test_guest.h"
#include "blobstore_test_util.h"
#include "src/test_guest_fixture.h"
#include "vscsim/blob.pb.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"

namespace vscsim::host::testing {

namespace bw = vscsim::devices::blob_wire;
namespace pb = vscsim::blob;
namespace vh = vscsim::host;
namespace vd = vscsim::devices;
namespace rq = vscsim::blobstore::testing::request;
using vd::testing::BlobGuest;
using vd::testing::LaidOut;
using vd::testing::UserBuffers;

struct Got {
  std::uint64_t trans_id;
  bw::Completion completion;  // zeros past what was sent
  std::size_t payload_size;   // bytes the completion carried
};


struct BlobSession {
  explicit BlobSession(vh::SessionConfig config = {})
      : f({&blob}, {}, std::move(config)), guest(*f.guest_mem, 20, 40) {
    f.connect();
    f.guest->inbox.clear();
    BOOST_REQUIRE_EQUAL(f.open(1), 0u);
  }

  // The guest sends one request as az_blob does (vmbus_sendpacket_mpb_desc)
  // and signals if the ring rules say so; no host pass yet.
  LaidOut post(const UserBuffers& u, std::uint64_t trans_id) {
    LaidOut r = guest.lay_out(u);
    auto sent = f.ring_guest->send_gpa_direct(trans_id, std::span(&r.range, 1),
                                              std::as_bytes(std::span(&r.wire, 1)));
    BOOST_REQUIRE(sent.ok());
    if (*sent) f.signal_host(1);
    return r;
  }

  // Everything in the host-to-guest ring; `signal_host` says whether the
  // guest's read crossed the host's pending_send_sz (then the guest signals).
  std::vector<Got> read_completions(bool* signal_host = nullptr) {
    std::vector<Got> out;
    while (auto p = f.ring_guest->receive()) {
      w::VmpacketDescriptor d{};
      std::memcpy(&d, p->data(), sizeof d);
      BOOST_REQUIRE_EQUAL(d.type, static_cast<std::uint16_t>(w::PacketType::kCompletion));
      const std::size_t at = std::size_t{d.offset8} * 8;
      BOOST_REQUIRE(p->size() >= at);
      Got g{d.trans_id, {}, std::min(p->size() - at, std::size_t{d.len8} * 8 - at)};
      std::memcpy(&g.completion, p->data() + at, std::min(g.payload_size, sizeof g.completion));
      out.push_back(g);
    }
    const bool crossed = f.ring_guest->close_receive();
    if (signal_host != nullptr) *signal_host = crossed;
    return out;
  }

  pb::Response response_of(const LaidOut& r, const Got& g) {
    const auto bytes = guest.response(r, g.completion.response_len);
    pb::Response out;
    BOOST_REQUIRE(out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
    return out;
  }

  vd::Blob blob{vscsim::blobstore::make_memory_store()};
  SessionFixture f;
  BlobGuest guest;
};

inline UserBuffers create_container(const std::string& c) {
  UserBuffers u;
  u.request = rq::create(c).SerializeAsString();
  return u;
}

inline UserBuffers stat(const std::string& c, const std::string& b) {
  UserBuffers u;
  u.request = rq::stat(c, b).SerializeAsString();
  u.response_len = 256;
  return u;
}

}  // namespace vscsim::host::testing

// Test helpers for the blob store and the layers above it (library
// vscsim_blobstore_testing, tests only): a scratch directory, data that no
// off-by-one or shifted copy can match by accident, and blob.proto requests
// built in one line.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "vscsim/blob.pb.h"

namespace vscsim::blobstore::testing {

// A fresh directory under the temp directory, removed with everything in it.
struct TempDir {
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "vscsim-blob-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

// Pseudo-random bytes (an LCG's high bytes), different for each seed.
inline std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed = 1) {
  std::vector<std::byte> out(n);
  std::uint32_t x = seed * 2654435761u + 12345u;
  for (auto& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return out;
}

// Requests of format version 1, one per operation.
namespace request {

inline blob::Request empty() {
  blob::Request r;
  r.set_format_version(1);
  return r;
}
inline blob::Request create(const std::string& container) {
  auto r = empty();
  r.mutable_create_container()->set_container(container);
  return r;
}
inline blob::Request delete_container(const std::string& container) {
  auto r = empty();
  r.mutable_delete_container()->set_container(container);
  return r;
}
inline blob::Request put(const std::string& container, const std::string& blob,
                         std::uint64_t length) {
  auto r = empty();
  r.mutable_put()->set_container(container);
  r.mutable_put()->set_blob(blob);
  r.mutable_put()->set_length(length);
  return r;
}
inline blob::Request get(const std::string& container, const std::string& blob,
                         std::uint64_t offset = 0, std::uint64_t length = 0) {
  auto r = empty();
  r.mutable_get()->set_container(container);
  r.mutable_get()->set_blob(blob);
  r.mutable_get()->set_offset(offset);
  r.mutable_get()->set_length(length);
  return r;
}
inline blob::Request list(const std::string& container, const std::string& start_after = "",
                          std::uint32_t max_results = 0) {
  auto r = empty();
  r.mutable_list()->set_container(container);
  r.mutable_list()->set_start_after(start_after);
  r.mutable_list()->set_max_results(max_results);
  return r;
}
inline blob::Request stat(const std::string& container, const std::string& blob) {
  auto r = empty();
  r.mutable_stat()->set_container(container);
  r.mutable_stat()->set_blob(blob);
  return r;
}
inline blob::Request remove(const std::string& container, const std::string& blob) {
  auto r = empty();
  r.mutable_delete_()->set_container(container);
  r.mutable_delete_()->set_blob(blob);
  return r;
}

}  // namespace request

}  // namespace vscsim::blobstore::testing

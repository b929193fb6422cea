// Container and blob names, as proto/vscsim/blob.proto defines them:
//   container: 1..63 bytes of [a-z0-9-]
//   blob:      1..1024 bytes of valid UTF-8, no NUL, not starting with '/'
// Every Store checks names with these before anything else, so backing code
// (which may turn a name into a file name) only ever sees valid ones.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"

namespace vscsim::blobstore {

inline constexpr std::size_t kMaxContainerName = 63;
inline constexpr std::size_t kMaxBlobName = 1024;

// Both say why a name is refused (the message names no guest bytes beyond
// the name's length, so it is safe to log).
Result<void, std::string> check_container_name(std::string_view name);
Result<void, std::string> check_blob_name(std::string_view name);

// Well-formed UTF-8: shortest encodings only, no surrogates, at most U+10FFFF.
[[nodiscard]] bool is_valid_utf8(std::string_view s);

}  // namespace vscsim::blobstore

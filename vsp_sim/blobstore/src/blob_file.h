// The directory store's file names and blob file header (layout in
// vscsim/blobstore/directory_store.h). Private to the library; here so tests
// can check the encoding directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vscsim::blobstore::detail {

inline constexpr std::string_view kMarkerFile = "VSCSIM-BLOBSTORE";
inline constexpr std::string_view kMarkerText = "vscsim blobstore format 1\n";
inline constexpr std::string_view kContainerPrefix = "c-";
inline constexpr std::string_view kReadablePrefix = "b-";
inline constexpr std::string_view kNumberedPrefix = "n-";
inline constexpr std::string_view kTempPrefix = ".tmp-";
// Escaped names longer than this get a numbered file (file names stop at 255).
inline constexpr std::size_t kMaxEscapedName = 200;

// Bytes other than [A-Za-z0-9._-] as %XX (upper-case hex): injective, and
// the result holds no '/' and no NUL.
[[nodiscard]] std::string escape_name(std::string_view name);

// "b-<escaped>" if that fits, else nullopt (the blob gets "n-<number>").
[[nodiscard]] std::optional<std::string> readable_file_name(std::string_view blob);

#pragma pack(push, 1)
struct BlobFileHeader {
  char magic[8];  // kBlobMagic
  std::uint64_t generation;
  std::uint64_t size;
  std::uint32_t name_length;
  std::uint32_t reserved;  // 0
};
#pragma pack(pop)
static_assert(sizeof(BlobFileHeader) == 32);
inline constexpr char kBlobMagic[8] = {'V', 'S', 'C', 'B', 'L', 'O', 'B', '1'};

}  // namespace vscsim::blobstore::detail

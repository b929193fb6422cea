// The bytes a BlobCall generates in the guest instead of carrying them over
// the port (agent.proto: fill_length, fill_seed), and the SHA-256 digest that
// lets the host compare a put with a later get without moving the data.
// Both sides link this, so the host can also compute the digest it expects.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vscsim::agent {

// xorshift64* (Vigna): each step's 64-bit output, little-endian, is the next 8
// bytes of the stream. Seed 0 would stay 0 forever, so it stands for
// kZeroSeedReplacement.
class FillGenerator {
 public:
  static constexpr std::uint64_t kZeroSeedReplacement = 0x9e3779b97f4a7c15ull;

  explicit FillGenerator(std::uint64_t seed) : state_(seed == 0 ? kZeroSeedReplacement : seed) {}

  // The next out.size() bytes of the stream.
  void fill(std::span<std::byte> out);

 private:
  std::uint64_t next();

  std::uint64_t state_;
  std::uint64_t pending_ = 0;     // bytes of the last output not yet handed out
  unsigned pending_bytes_ = 0;
};

[[nodiscard]] std::vector<std::byte> fill_bytes(std::uint64_t seed, std::size_t length);

using Sha256Digest = std::array<std::uint8_t, 32>;

// SHA-256 (FIPS 180-4), streaming.
class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::byte> bytes);
  [[nodiscard]] Sha256Digest finish();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> block_{};
  std::size_t block_used_ = 0;
  std::uint64_t total_bytes_ = 0;
};

[[nodiscard]] Sha256Digest sha256(std::span<const std::byte> bytes);
// The digest as the raw 32 bytes OpResult.digest carries.
[[nodiscard]] std::string digest_bytes(const Sha256Digest& digest);
[[nodiscard]] std::string to_hex(std::string_view bytes);

}  // namespace vscsim::agent

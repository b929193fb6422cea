// Private to vscsim_simctl: blocking-looking I/O on a non-blocking unix
// stream socket, every wait a poll() bounded by a deadline. Errors say why.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"

namespace vscsim::simctl::io {

using Clock = std::chrono::steady_clock;

// A connected non-blocking AF_UNIX stream socket (the caller closes it).
Result<int, std::string> connect_unix(const std::filesystem::path& path, Clock::time_point deadline);
Result<void, std::string> send_all(int fd, std::string_view bytes, Clock::time_point deadline);
// Exactly `n` bytes into `out`.
Result<void, std::string> recv_exact(int fd, char* out, std::size_t n, Clock::time_point deadline);
// One line without its newline, at most `max` bytes. Byte by byte: nothing
// after the line is taken from the socket.
Result<std::string, std::string> recv_line(int fd, std::size_t max, Clock::time_point deadline);

}  // namespace vscsim::simctl::io

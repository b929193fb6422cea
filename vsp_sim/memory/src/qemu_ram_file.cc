#include "vscsim/memory/qemu_ram_file.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vscsim::memory {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

bool parse_hex(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

// Splits off the next space-separated field of `line`.
std::string_view next_field(std::string_view& line) {
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  const auto space = line.find(' ');
  const std::string_view field = line.substr(0, space);
  line.remove_prefix(space == std::string_view::npos ? line.size() : space);
  return field;
}

}  // namespace

Result<SharedFileMapping, std::string> largest_shared_file_mapping(std::string_view maps) {
  // Each line: start-end perms offset dev inode [path], the path possibly
  // holding spaces (and " (deleted)").
  SharedFileMapping best;
  bool found = false;
  std::size_t line_number = 0;
  while (!maps.empty()) {
    const auto nl = maps.find('\n');
    std::string_view line = maps.substr(0, nl);
    maps.remove_prefix(nl == std::string_view::npos ? maps.size() : nl + 1);
    ++line_number;
    if (line.empty()) continue;
    const std::string_view range = next_field(line);
    const std::string_view perms = next_field(line);
    next_field(line);  // offset
    next_field(line);  // device
    next_field(line);  // inode
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    const auto dash = range.find('-');
    SharedFileMapping m;
    if (dash == std::string_view::npos || !parse_hex(range.substr(0, dash), m.start) ||
        !parse_hex(range.substr(dash + 1), m.end) || m.end < m.start || perms.size() != 4) {
      return Err(fmt::format("maps line {} is not a mapping: '{}'", line_number, range));
    }
    // Anonymous memory and the kernel's pseudo-files ([heap], [vvar]) are never guest RAM.
    if (perms[3] != 's' || line.empty() || line.front() == '[') continue;
    m.path = std::string(line);
    if (!found || m.size() > best.size()) best = std::move(m);
    found = true;
  }
  if (!found) return Err(std::string("no shared file mapping (is guest RAM share=on?)"));
  return best;
}

std::string openable_path(pid_t pid, const SharedFileMapping& mapping) {
  const std::string_view path = mapping.path;
  const bool named = path.starts_with('/') && !path.ends_with(kDeletedSuffix) && !path.starts_with("/memfd:");
  if (named) return mapping.path;
  return fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, mapping.start, mapping.end);
}

Result<std::string, std::string> find_qemu_ram_file(pid_t pid) {
  const std::string maps_path = fmt::format("/proc/{}/maps", pid);
  std::ifstream in(maps_path);
  if (!in) return Err(fmt::format("cannot read {} (is QEMU, pid {}, still running?)", maps_path, pid));
  std::ostringstream text;
  text << in.rdbuf();
  auto mapping = largest_shared_file_mapping(text.str());
  if (!mapping.ok()) return Err(fmt::format("QEMU pid {}: {}", pid, mapping.error()));
  return openable_path(pid, *mapping);
}

}  // namespace vscsim::memory

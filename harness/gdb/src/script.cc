#include "vscsim/gdb/script.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace vscsim::gdb {

namespace {

// gdb splits these commands' arguments at blanks and treats quotes itself, so
// a path must be one plain word.
bool plain_path(std::string_view p) {
  return !p.empty() && std::none_of(p.begin(), p.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '\\';
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool placed_section(std::string_view section) {
  return !section.starts_with(".init") && section != ".symtab" && section != ".strtab";
}

Result<std::string, std::string> render_script(const ScriptInput& in) {
  for (const auto& p : {in.vmlinux, in.self}) {
    if (!plain_path(p.string())) return Err(fmt::format("gdb cannot take the path '{}' as one word", p.string()));
  }
  std::string out;
  auto line = [&out](std::string_view text) {
    out += text;
    out += '\n';
  };
  line("# Written by vsc-guest --gdb (docs/gdb.md); vsc-reload-modules rewrites it.");
  for (const auto& note : in.notes) line(fmt::format("# {}", note));
  // Off while the script runs (symbol-file asks before discarding), on again at the end.
  line("set confirm off");
  line("symbol-file");
  line(fmt::format("file {}", in.vmlinux.string()));
  for (const auto& dir : in.source_dirs) {
    if (!plain_path(dir.string())) return Err(fmt::format("gdb cannot take the path '{}' as one word", dir.string()));
    line(fmt::format("directory {}", dir.string()));
  }
  line(fmt::format("target remote {}:{}", in.host, in.port));
  for (const auto& m : in.modules) {
    if (!plain_path(m.object.string())) {
      return Err(fmt::format("gdb cannot take the path '{}' as one word", m.object.string()));
    }
    const auto text = std::find_if(m.sections.begin(), m.sections.end(), [](const Section& s) { return s.name == ".text"; });
    if (text == m.sections.end()) return Err(fmt::format("module {} has no .text section listed", m.name));
    std::string cmd = fmt::format("add-symbol-file {} {:#x}", m.object.string(), text->address);
    for (const auto& s : m.sections) {
      if (s.name == ".text" || !placed_section(s.name)) continue;
      cmd += fmt::format(" -s {} {:#x}", s.name, s.address);
    }
    line(cmd);
  }
  line("define vsc-reload-modules");
  line("  detach");
  line(fmt::format("  shell {}", in.regenerate_command));
  line(fmt::format("  source {}", in.self.string()));
  line("end");
  line("document vsc-reload-modules");
  line("Reload the project modules' symbols after they were unloaded or loaded again in the guest:");
  line("detach (the guest runs on), rewrite this script with the modules' addresses now, source it");
  line("again (gdb reconnects and the guest stops). Breakpoints are kept.");
  line("end");
  line("set confirm on");
  return out;
}

Result<std::vector<Section>, std::string> parse_sections(std::string_view listing) {
  std::vector<Section> out;
  std::size_t line_no = 0;
  while (!listing.empty()) {
    const auto nl = listing.find('\n');
    const std::string_view raw = listing.substr(0, nl);
    listing.remove_prefix(nl == std::string_view::npos ? listing.size() : nl + 1);
    ++line_no;
    const std::string_view l = trim(raw);
    if (l.empty()) continue;
    const auto sp = l.find_first_of(" \t");
    if (sp == std::string_view::npos) return Err(fmt::format("line {}: no address: '{}'", line_no, l));
    std::string_view addr = trim(l.substr(sp));
    if (addr.starts_with("0x") || addr.starts_with("0X")) addr.remove_prefix(2);
    Section s{std::string(l.substr(0, sp)), 0};
    const auto [end, ec] = std::from_chars(addr.data(), addr.data() + addr.size(), s.address, 16);
    if (addr.empty() || ec != std::errc() || end != addr.data() + addr.size()) {
      return Err(fmt::format("line {}: not a hex address: '{}'", line_no, l));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> module_names(std::string_view proc_modules) {
  std::vector<std::string> out;
  while (!proc_modules.empty()) {
    const auto nl = proc_modules.find('\n');
    const std::string_view l = trim(proc_modules.substr(0, nl));
    proc_modules.remove_prefix(nl == std::string_view::npos ? proc_modules.size() : nl + 1);
    const auto sp = l.find(' ');
    if (!l.empty()) out.emplace_back(l.substr(0, sp));
  }
  return out;
}

std::string shell_quote(std::string_view word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace vscsim::gdb

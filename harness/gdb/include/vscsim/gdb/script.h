// The gdb script `vsc-guest --gdb` writes: the guest kernel's symbols, the
// connection to QEMU's gdbstub, and each loaded project module's object file
// at the addresses the guest kernel gave its sections. Pure text in, text
// out: no guest, no files (docs/gdb.md says how it is used).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::gdb {

// One section of a loaded module: its name and the guest address it sits at
// (the guest's /sys/module/<name>/sections/<section>).
struct Section {
  std::string name;
  std::uint64_t address = 0;
  bool operator==(const Section&) const = default;
};

// A module loaded in the guest and the host file with its debug info.
struct ModuleLoad {
  std::string name;               // as in /proc/modules, e.g. az_blob
  std::filesystem::path object;   // the .ko with DWARF, e.g. build/modules/az_blob.ko
  std::vector<Section> sections;  // as the guest lists them; must hold .text
};

struct ScriptInput {
  std::filesystem::path vmlinux;      // the guest kernel's symbols
  std::vector<std::string> notes;     // comment lines saying what the symbols are
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;             // QEMU's gdbstub
  std::vector<ModuleLoad> modules;    // in load order
  std::vector<std::filesystem::path> source_dirs;  // `directory` lines (kernel sources)
  // The script's own path and the shell command that rewrites it with the
  // modules' current addresses: the script defines `vsc-reload-modules`,
  // which detaches (the guest runs on), runs it and sources the script again.
  std::filesystem::path self;
  std::string regenerate_command;
};

// Whether the script places a section the guest lists. Not .init.*: the
// kernel frees them once the module's init returns (sysfs still lists them,
// at addresses that now belong to someone else). Not .symtab and .strtab:
// those are the kernel's own trimmed copy of the symbol table for kallsyms,
// not sections of the .ko file.
[[nodiscard]] bool placed_section(std::string_view section);

// The gdb commands, one per line. Fails if a module has no .text.
[[nodiscard]] Result<std::string, std::string> render_script(const ScriptInput& input);

// `<section> <address>` lines (the address in hex, 0x optional, as sysfs
// prints it) into sections, in order. Blank lines are skipped; anything
// else is an error naming the line.
[[nodiscard]] Result<std::vector<Section>, std::string> parse_sections(std::string_view listing);

// The module names of /proc/modules, in its order (newest first).
[[nodiscard]] std::vector<std::string> module_names(std::string_view proc_modules);

// A string as a shell word: single-quoted unless it is plain.
[[nodiscard]] std::string shell_quote(std::string_view word);

}  // namespace vscsim::gdb

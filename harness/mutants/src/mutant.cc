#include "vscsim/mutants/mutant.h"

#include <fnmatch.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace vscsim::mutants {

namespace fs = std::filesystem;

std::string_view to_string(Needs needs) { return needs == Needs::Stock ? "stock" : "debug-kernel"; }

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool is_diff_start(std::string_view line) { return line.starts_with("diff ") || line.starts_with("--- "); }

}  // namespace

Result<Mutant, std::string> parse_mutant(std::string_view text, std::string_view stem) {
  std::map<std::string, std::string> fields;
  std::string last;
  bool diff = false;
  unsigned line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (is_diff_start(line)) {
      diff = true;
      break;
    }
    if (trim(line).empty()) {
      last.clear();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !last.empty()) {
      fields[last] += " " + trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) return Err(fmt::format("line {}: not a \"Key: value\" header line", line_no));
    std::string key = line.substr(0, colon);
    static const std::vector<std::string> kKeys = {"Mutant", "Item", "Needs", "Caught-by", "Description"};
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return Err(fmt::format("line {}: unknown header field \"{}\" (Mutant, Item, Needs, Caught-by, Description)",
                             line_no, key));
    }
    if (fields.contains(key)) return Err(fmt::format("line {}: {} given twice", line_no, key));
    fields[key] = trim(std::string_view(line).substr(colon + 1));
    last = key;
  }
  if (!diff) return Err("no diff after the header (a line starting with \"diff \" or \"--- \")");
  for (const char* key : {"Mutant", "Item", "Needs", "Caught-by", "Description"}) {
    if (fields[key].empty()) return Err(fmt::format("the header has no {}", key));
  }
  Mutant m;
  m.name = std::string(stem);
  m.mutant = fields["Mutant"];
  m.caught_by = fields["Caught-by"];
  m.description = fields["Description"];
  const auto& item = fields["Item"];
  if (item.size() > 2 || !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Err(fmt::format("Item: \"{}\" is not a catalogue item (1..20)", item));
  }
  m.item = static_cast<unsigned>(std::stoul(item));
  if (m.item < 1 || m.item > 20) return Err(fmt::format("Item: {} is not a catalogue item (1..20)", m.item));
  if (fields["Needs"] == "stock") {
    m.needs = Needs::Stock;
  } else if (fields["Needs"] == "debug-kernel") {
    m.needs = Needs::DebugKernel;
  } else {
    return Err(fmt::format("Needs: \"{}\" is neither stock nor debug-kernel", fields["Needs"]));
  }
  const std::string prefix = fmt::format("{:02}-{}", m.item, m.mutant);
  if (stem != prefix && !stem.starts_with(prefix + "-")) {
    return Err(fmt::format("the file's name \"{}\" does not start with \"{}\" (NN-<Mutant>, NN = Item)", stem, prefix));
  }
  return m;
}

Result<Mutant, std::string> load_mutant(const fs::path& patch) {
  std::ifstream in(patch, std::ios::binary);
  if (!in) return Err(fmt::format("{}: cannot read", patch.string()));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = parse_mutant(text, patch.stem().string());
  if (!m.ok()) return Err(fmt::format("{}: {}", patch.string(), m.error()));
  m->patch = patch;
  return m;
}

Result<std::vector<Mutant>, std::string> load_mutants(const fs::path& dir, const std::vector<std::string>& globs) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".patch") files.push_back(e.path());
  }
  if (ec) return Err(fmt::format("{}: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<Mutant> out;
  std::string errors;
  for (const auto& f : files) {
    const auto stem = f.stem().string();
    const bool selected = globs.empty() || std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
                            return ::fnmatch(g.c_str(), stem.c_str(), 0) == 0;
                          });
    // Every file is parsed, selected or not: a bad header is never skipped silently.
    auto m = load_mutant(f);
    if (!m.ok()) {
      errors += m.error() + "\n";
      continue;
    }
    if (selected) out.push_back(std::move(m).value());
  }
  if (!errors.empty()) return Err(errors);
  return out;
}

}  // namespace vscsim::mutants

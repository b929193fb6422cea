#include "vscsim/scenario/load.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "validate.h"

namespace vscsim::scenario {

std::string LoadError::str() const {
  std::string out = path;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (severity == Severity::kWarning) out += "warning: ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

std::ostream& operator<<(std::ostream& out, const LoadError& error) { return out << error.str(); }

std::string LoadFailure::str() const {
  std::string out;
  for (const auto& e : errors) out += e.str() + "\n";
  for (const auto& w : warnings) out += w.str() + "\n";
  return out;
}

namespace {

// Syntax errors from the text format parser, which counts lines and columns from 0.
class SyntaxErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit SyntaxErrors(std::string path) : path_(std::move(path)) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    errors.push_back(make(line, column, message, LoadError::Severity::kError));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    warnings.push_back(make(line, column, message, LoadError::Severity::kWarning));
  }

  std::vector<LoadError> errors;
  std::vector<LoadError> warnings;

 private:
  LoadError make(int line, int column, const std::string& message, LoadError::Severity severity) const {
    // A line of -1 means "no place" (e.g. a missing required field at the end).
    return LoadError{path_, line >= 0 ? line + 1 : 0, line >= 0 ? column + 1 : 0, "", message, severity};
  }

  std::string path_;
};

LoadFailure failure(std::vector<LoadError> errors, std::vector<LoadError> warnings = {}) {
  return LoadFailure{std::move(errors), std::move(warnings)};
}

}  // namespace

Result<LoadedScenario, LoadFailure> parse_scenario(std::string_view text, const std::filesystem::path& path) {
  const std::string shown = path.string();
  SyntaxErrors syntax(shown);
  google::protobuf::TextFormat::ParseInfoTree tree;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&syntax);
  parser.WriteLocationsTo(&tree);
  Scenario scenario;
  const std::string owned(text);  // the parser wants a std::string
  if (!parser.ParseFromString(owned, &scenario)) {
    if (syntax.errors.empty()) syntax.errors.push_back({shown, 0, 0, "", "not a valid scenario", {}});
    return Err(failure(std::move(syntax.errors), std::move(syntax.warnings)));
  }
  detail::Findings findings(shown, tree);
  findings.warnings = std::move(syntax.warnings);
  detail::check_and_complete(scenario, path.stem().string(), findings);
  if (!findings.errors.empty()) return Err(failure(std::move(findings.errors), std::move(findings.warnings)));
  return LoadedScenario{std::move(scenario), shown, std::move(findings.warnings)};
}

Result<LoadedScenario, LoadFailure> load_scenario(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    const auto why = std::error_code(errno, std::generic_category()).message();
    return Err(failure({LoadError{path.string(), 0, 0, "", "cannot read the file: " + why, {}}}));
  }
  return parse_scenario(text.str(), path);
}

const LoadedScenario* Suite::find(std::string_view name) const {
  const auto it = std::find_if(scenarios.begin(), scenarios.end(),
                               [&](const LoadedScenario& s) { return s.scenario.name() == name; });
  return it == scenarios.end() ? nullptr : &*it;
}

namespace {

constexpr std::string_view kScenarioExtension = ".textproto";

// The files of one source: a folder's *.textproto (not its subfolders), or
// the file itself.
std::vector<std::filesystem::path> files_of(const std::filesystem::path& source, std::vector<LoadError>& errors) {
  std::error_code ec;
  if (!std::filesystem::is_directory(source, ec)) {
    if (std::filesystem::exists(source, ec)) return {source};
    errors.push_back({source.string(), 0, 0, "", "no such file or folder", {}});
    return {};
  }
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(source, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == kScenarioExtension && !it->is_directory()) files.push_back(it->path());
  }
  if (ec) errors.push_back({source.string(), 0, 0, "", "cannot list the folder: " + ec.message(), {}});
  return files;
}

}  // namespace

Result<Suite, LoadFailure> load_suite(std::span<const std::filesystem::path> sources) {
  LoadFailure bad;
  std::vector<std::filesystem::path> files;
  for (const auto& source : sources) {
    for (auto& file : files_of(source, bad.errors)) files.push_back(std::move(file));
  }
  // Sorted by base name (= scenario name), so the order does not depend on
  // the folder's listing order.
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return std::pair(a.filename(), a) < std::pair(b.filename(), b);
  });
  Suite suite;
  std::map<std::string, std::string> seen;  // name -> the file that has it
  for (const auto& file : files) {
    auto loaded = load_scenario(file);
    if (!loaded.ok()) {
      for (auto& e : loaded.error().errors) bad.errors.push_back(std::move(e));
      for (auto& w : loaded.error().warnings) bad.warnings.push_back(std::move(w));
      continue;
    }
    const auto& name = loaded->scenario.name();
    if (const auto [it, fresh] = seen.emplace(name, file.string()); !fresh) {
      bad.errors.push_back({file.string(), 0, 0, "name",
                            "scenario " + std::string("\"") + name + "\" is also defined in " + it->second, {}});
      continue;
    }
    for (const auto& w : loaded->warnings) bad.warnings.push_back(w);
    suite.scenarios.push_back(std::move(loaded).value());
  }
  if (!bad.errors.empty()) return Err(std::move(bad));
  return suite;
}

Result<Suite, LoadFailure> load_suite(const std::filesystem::path& dir) {
  return load_suite(std::span<const std::filesystem::path>(&dir, 1));
}

}  // namespace vscsim::scenario

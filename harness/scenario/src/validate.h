// The semantic rules of a scenario and its defaults (scenarios/README.md).
// Private to the scenario loader.
#pragma once

#include <google/protobuf/text_format.h>

#include <string>
#include <string_view>
#include <vector>

#include "field_path.h"
#include "vscsim/scenario/load.h"

namespace vscsim::scenario::detail {

// Errors and warnings, each placed in the file through the parse's info tree.
class Findings {
 public:
  Findings(std::string path, const google::protobuf::TextFormat::ParseInfoTree& tree)
      : path_(std::move(path)), tree_(tree) {}

  void error(const FieldPath& field, std::string message);
  void warning(const FieldPath& field, std::string message);

  std::vector<LoadError> errors;
  std::vector<LoadError> warnings;

 private:
  LoadError make(const FieldPath& field, std::string message, LoadError::Severity severity) const;

  std::string path_;
  const google::protobuf::TextFormat::ParseInfoTree& tree_;
};

// Checks a parsed scenario; when no error was found, writes out every default.
// `expected_name` is the file's base name.
void check_and_complete(Scenario& scenario, std::string_view expected_name, Findings& findings);

}  // namespace vscsim::scenario::detail

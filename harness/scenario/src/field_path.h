// Field paths ("thread[1].step[3].expect.errno_name") and where a path was
// written in the parsed text. Private to the scenario loader.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <string>
#include <string_view>
#include <vector>

namespace vscsim::scenario::detail {

class FieldPath {
 public:
  struct Part {
    std::string field;
    int index = -1;  // -1: a singular field
  };

  // A singular field below this one.
  [[nodiscard]] FieldPath operator/(std::string_view field) const;
  // Element `index` of a repeated field below this one.
  [[nodiscard]] FieldPath at(std::string_view field, int index) const;

  std::string str() const;
  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<Part> parts_;
};

struct TextLocation {
  int line = 0;  // 1-based; 0: unknown
  int column = 0;
};

// Where `path` was written in the text `tree` describes; a path that was not
// written (a missing field, a default) gets its nearest written ancestor's
// place. `root` is the message type the tree starts at.
TextLocation locate(const google::protobuf::TextFormat::ParseInfoTree& tree,
                    const google::protobuf::Descriptor& root, const FieldPath& path);

}  // namespace vscsim::scenario::detail

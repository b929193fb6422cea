#include "field_path.h"

namespace vscsim::scenario::detail {

FieldPath FieldPath::operator/(std::string_view field) const {
  FieldPath p = *this;
  p.parts_.push_back({std::string(field), -1});
  return p;
}

FieldPath FieldPath::at(std::string_view field, int index) const {
  FieldPath p = *this;
  p.parts_.push_back({std::string(field), index});
  return p;
}

std::string FieldPath::str() const {
  std::string out;
  for (const auto& part : parts_) {
    if (!out.empty()) out += '.';
    out += part.field;
    if (part.index >= 0) out += '[' + std::to_string(part.index) + ']';
  }
  return out;
}

TextLocation locate(const google::protobuf::TextFormat::ParseInfoTree& tree,
                    const google::protobuf::Descriptor& root, const FieldPath& path) {
  TextLocation found;
  const auto* node = &tree;
  const auto* type = &root;
  for (const auto& part : path.parts()) {
    const auto* field = type ? type->FindFieldByName(part.field) : nullptr;
    if (!field || !node) break;
    // ParseInfoTree numbers the values of a repeated field from 0 and wants -1
    // for a singular one, as FieldPath does.
    const auto where = node->GetLocation(field, part.index);
    if (where.line < 0) break;  // not written: keep the parent's place
    found = {where.line + 1, where.column + 1};
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) break;
    node = node->GetTreeForNested(field, part.index);
    type = field->message_type();
  }
  return found;
}

}  // namespace vscsim::scenario::detail

#include "vscsim/report/json.h"

#include <google/protobuf/util/json_util.h>

#include <vector>

#include "vscsim/report/run_report.h"

namespace vscsim::report {

namespace {

// Replaces invalid UTF-8 in every string field, recursively (string fields
// must be UTF-8).
void make_strings_valid(google::protobuf::Message& message) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && field->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          reflection->SetRepeatedString(&message, field, i, valid_utf8(reflection->GetRepeatedString(message, field, i)));
        }
      } else {
        reflection->SetString(&message, field, valid_utf8(reflection->GetString(message, field)));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          make_strings_valid(*reflection->MutableRepeatedMessage(&message, field, i));
        }
      } else {
        make_strings_valid(*reflection->MutableMessage(&message, field));
      }
    }
  }
}

}  // namespace

std::string to_json(const RunReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  // The printer silently drops bytes that are not UTF-8 (and logs an error);
  // a console excerpt taken raw has such bytes, so print a repaired copy,
  // where they are visible as U+FFFD. A report is small; the copy is cheap.
  RunReport repaired = report;
  make_strings_valid(repaired);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(repaired, &json, options);
  return json;
}

Result<RunReport, std::string> from_json(std::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  RunReport report;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &report, options);
  if (!status.ok()) return Err("not a run report: " + status.ToString());
  return report;
}

}  // namespace vscsim::report

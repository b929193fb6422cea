// The control socket's one-line text commands (host.h lists them) as
// control.proto Requests, and Responses as the text answers: the text
// protocol is a spelling of the protobuf one, so both run Host::execute.
// Private to vscsim_host.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "vscsim/control.pb.h"

namespace vscsim::host {

// Runs one command line (without its newline): parses it into a Request
// (a line that does not parse is answered "error <why>" without running
// anything), has `execute` carry it out and spells the Response as one text
// answer line: "error <why>", the state line, "ok <events> <dropped>" for a
// trace dump, "ok <note>" or "ok". `help` is answered here.
[[nodiscard]] std::string run_text_command(
    std::string_view line, const std::function<control::Response(const control::Request&)>& execute);

// "<label>=[<text>; <text>]" for fault rules (their ActiveFault::text), or
// nothing when there are none.
[[nodiscard]] std::string fault_words(
    const google::protobuf::RepeatedPtrField<control::ActiveFault>& faults, std::string_view label);

}  // namespace vscsim::host

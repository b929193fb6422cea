// The Linux errno names a scenario may expect ("ENODEV"), and their numbers.
// The table holds every name user space sees (<errno.h> on Linux x86-64, the
// guest's ABI too), aliases included (EWOULDBLOCK, EDEADLOCK, ENOTSUP).
#pragma once

#include <optional>
#include <string_view>

namespace vscsim::scenario {

// The number of an errno name ("ENODEV" -> 19); nullopt for an unknown name.
std::optional<int> errno_number(std::string_view name);

// The canonical name of an errno number (11 -> "EAGAIN", not its alias
// "EWOULDBLOCK"); "" for 0 and for numbers no name has.
std::string_view errno_name(int number);

// Whether `text` is what Expect.errno_name accepts: "" or "0" (success), or
// a name errno_number() knows.
bool is_expected_errno(std::string_view text);

}  // namespace vscsim::scenario

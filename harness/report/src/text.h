// Text helpers the report writers share: UTF-8 decoding, lengths and cuts
// in code points, durations for people. Private to vscsim_report.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vscsim::report::detail {

// The code point that starts at `text[at]`, and moves `at` past it; nullopt
// for a byte that does not start a valid sequence (overlong forms,
// surrogates and values past U+10FFFF included), and then `at` moves one byte.
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& at);

void append_utf8(std::string& out, char32_t code_point);

// How many code points `text` has (invalid bytes count one each).
std::size_t code_points(std::string_view text);

// `text` cut to at most `max` code points, the last of them an ellipsis when cut.
std::string cut_to(std::string_view text, std::size_t max);

// "4.2 s": a duration for people, with `decimals` digits after the point.
std::string seconds_text(double seconds, int decimals = 1);

}  // namespace vscsim::report::detail

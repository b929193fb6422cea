#include "vscsim/runner/expectation.h"

#include <fmt/format.h>

#include <algorithm>

namespace vscsim::runner {

namespace {

std::string shown(const std::string& errno_name) { return errno_name.empty() ? "success" : errno_name; }

std::string hex(const std::string& bytes) {
  std::string out;
  for (const unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out.empty() ? "(none)" : out.substr(0, 16);
}

bool is_success_name(const std::string& name) { return name.empty() || name == "0"; }

}  // namespace

Verdict judge(const scenario::Expect& expect, const agent::Op& op, const agent::OpResult& result,
              const std::map<std::string, std::string>& digests) {
  std::vector<std::string> wrong;
  const std::string got = result.err() == 0 ? "" : result.errno_name();

  // errno: one name, or any of several; none given means success.
  if (expect.any_outcome()) {
    // Errno, status and data unchecked; the time bounds below still hold.
  } else if (expect.any_errno_size() > 0) {
    const auto& any = expect.any_errno();
    const bool ok = std::any_of(any.begin(), any.end(), [&](const std::string& n) {
      return is_success_name(n) ? got.empty() : n == got;
    });
    if (!ok) wrong.push_back(fmt::format("expected one of [{}], got {}", fmt::join(any, " "), shown(got)));
  } else if (is_success_name(expect.errno_name()) ? !got.empty() : expect.errno_name() != got) {
    wrong.push_back(fmt::format("expected {}, got {}", shown(expect.errno_name()), shown(got)));
  }

  const bool succeeded = got.empty() && !expect.any_outcome();
  const bool blob = op.kind_case() == agent::Op::kBlob;
  if (expect.has_status()) {
    if (result.status() != expect.status()) {
      wrong.push_back(fmt::format("expected wire status {}, got {}", expect.status(), result.status()));
    }
  } else if (blob && succeeded && result.status() != 0) {
    wrong.push_back(fmt::format("expected wire status 0, got {}", result.status()));
  }
  if (expect.has_blob_status()) {
    if (result.blob().status() != expect.blob_status()) {
      wrong.push_back(fmt::format("expected blob status {}, got {}", blob::Status_Name(expect.blob_status()),
                                  blob::Status_Name(result.blob().status())));
    }
  } else if (blob && succeeded && result.status() == 0 && result.blob().status() != blob::OK) {
    wrong.push_back(fmt::format("expected blob status OK, got {}{}", blob::Status_Name(result.blob().status()),
                                result.blob().message().empty() ? "" : " (" + result.blob().message() + ")"));
  }

  if (!expect.data().empty() && result.data() != expect.data()) {
    wrong.push_back(fmt::format("expected {} data bytes, got {} different ones", expect.data().size(),
                                result.data().size()));
  }
  if (!expect.data_of().empty()) {
    const auto it = digests.find(expect.data_of());
    if (it == digests.end() || it->second.empty()) {
      wrong.push_back(fmt::format("step {} left no digest to compare with", expect.data_of()));
    } else if (it->second != result.digest()) {
      wrong.push_back(fmt::format("data differs from step {}'s: digest {} vs {}", expect.data_of(),
                                  hex(result.digest()), hex(it->second)));
    }
  }

  // Time bounds use the guest's own clock: what the operation took there.
  const std::uint64_t took_ms = (result.end_ns() - std::min(result.start_ns(), result.end_ns())) / 1000000;
  if (expect.within_ms() != 0 && took_ms > expect.within_ms()) {
    wrong.push_back(fmt::format("took {} ms, more than {} ms", took_ms, expect.within_ms()));
  }
  if (expect.not_before_ms() != 0 && took_ms < expect.not_before_ms()) {
    wrong.push_back(fmt::format("took {} ms, less than {} ms", took_ms, expect.not_before_ms()));
  }

  Verdict v;
  v.met = wrong.empty();
  v.detail = fmt::format("{}", fmt::join(wrong, "; "));
  if (!v.met && !result.detail().empty()) v.detail += " [" + result.detail() + "]";
  return v;
}

}  // namespace vscsim::runner

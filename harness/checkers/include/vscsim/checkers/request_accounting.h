// Request accounting from the simulator's packet trace (vsp-sim trace-dump,
// vsp_sim/host/packet_trace.h): per channel, every request the guest sent
// with a transaction id is answered exactly once, and nothing is sent on a
// channel after the host rescinded it.
//
// Walks the events in order. Per relid: a guest GPA-direct or in-band packet
// with COMPLETION_REQUESTED and a non-zero id opens that id (an id already
// open is a duplicate: the guest reused an id still in flight); a host
// completion closes it (an id not open is stray: a host fault). A rescind
// message ends the channel's life: what is open then is "unanswered at
// rescind" (a host that fails them first leaves none), and a guest packet
// after it, before the next offer of that relid, is "sent after rescind" (a
// driver bug). A host fault event "drop_completion" (vsp-sim blob-drop: the
// host carried the request out and withheld its answer on purpose) closes its
// id too, counted as "dropped by host", not as unanswered. At the end, what is
// still open is "unanswered".
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::checkers {

struct AccountingReport {
  std::uint64_t requests = 0;
  std::uint64_t completions = 0;
  std::uint64_t unanswered = 0;             // open at the end of the trace
  std::uint64_t unanswered_at_rescind = 0;  // open when their channel was rescinded
  std::uint64_t duplicate_ids = 0;          // an id reused while in flight (guest bug)
  std::uint64_t stray_completions = 0;      // completions for no open id (host fault)
  std::uint64_t dropped_by_host = 0;        // requests the host left unanswered on purpose (drop, wrong_id)
  std::uint64_t announced_completions = 0;  // extra completions a host fault announced (duplicate, wrong_id)
  std::uint64_t sent_after_rescind = 0;     // guest packets on a rescinded channel (guest bug)
  bool truncated = false;                   // the trace dropped events: counts are partial
  std::vector<std::string> findings;        // one line each, the first few of every kind

  // The driver's part is clean: no duplicate id, nothing after a rescind.
  [[nodiscard]] bool guest_clean() const { return duplicate_ids == 0 && sent_after_rescind == 0; }
  [[nodiscard]] std::string summary() const;
};

// Parses the trace's JSON lines; a malformed line is an error naming it.
// `relids`: only these channels (empty: all). A device whose protocol answers
// requests with messages of its own rather than completions (the keyboard's
// protocol request asks for a completion it never gets) is left out so.
Result<AccountingReport, std::string> account_requests(std::string_view json_lines,
                                                       const std::set<std::uint32_t>& relids = {});

}  // namespace vscsim::checkers

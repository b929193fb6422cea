// vsc-gdb-script: writes the gdb script for a running guest again (the
// modules' addresses now), as `vsc-guest --gdb` wrote it at ready. The
// script's vsc-reload-modules runs it after a module was loaded again.
// docs/gdb.md.
#include <CLI/CLI.hpp>

#include <iostream>

#include "guest_gdb.h"

int main(int argc, char** argv) {
  CLI::App app{"Write the gdb script for a guest started with vsc-guest --gdb (its modules' addresses now).\n"
               "Exit status: 0 written, 1 it could not be (the reason on stderr), 2 bad usage."};
  vscsim::tools::GdbScriptRequest req;
  req.kernel = "stock";
  app.add_option("--kernel", req.kernel, "The guest's kernel: stock, debug or fast")
      ->check(CLI::IsMember({"stock", "debug", "fast"}));
  app.add_option("--agent", req.agent_socket, "The guest agent's socket (vsc-guest prints it)")->required();
  app.add_option("--port", req.port, "QEMU's gdbstub port")->required();
  app.add_option("--out", req.out, "The script to write")->required();
  CLI11_PARSE(app, argc, argv);
  auto written = vscsim::tools::write_gdb_script(req);
  if (!written.ok()) {
    std::cerr << "vsc-gdb-script: " << written.error() << "\n";
    return 1;
  }
  std::cerr << "vsc-gdb-script: " << req.out.string() << ": " << written->modules.size() << " module(s)\n";
  return 0;
}

// The static vscsim-agent program itself, run on this host with --listen:
// its command line, a host that disconnects and comes back, and SIGTERM.
#define BOOST_TEST_MODULE agent_binary
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "vscsim/agent/client.h"

using namespace vscsim::agent;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

pid_t start_agent(const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings{VSCSIM_AGENT_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bad_arguments_are_usage_errors) {
  const int status = wait_status(start_agent({"--bogus"}));
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 2);
}

BOOST_AUTO_TEST_CASE(listens_serves_a_host_again_after_it_leaves_and_stops_on_sigterm) {
  const fs::path dir = fs::temp_directory_path() / ("vscsim-agent-binary-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path socket = dir / "agent.sock";
  const pid_t agent = start_agent({"--listen", socket.string()});

  pid_t worker_pid = 0;
  for (int connection = 0; connection < 2; ++connection) {
    auto client = AgentClient::connect(socket, 10s);
    BOOST_REQUIRE_MESSAGE(client.ok(), error_text(client));
    auto hello = client.value()->hello(10s);
    BOOST_REQUIRE_MESSAGE(hello.ok(), error_text(hello));
    BOOST_TEST(hello->pid() == static_cast<std::uint32_t>(agent));
    Run run;
    run.mutable_op()->mutable_read_file()->set_path("/proc/self/stat");
    auto stat = client.value()->run(run, 10s);
    BOOST_REQUIRE_MESSAGE(stat.ok(), error_text(stat));
    // The same main worker serves the second host: the agent keeps its processes.
    const pid_t pid = std::stoi(stat->data());
    if (connection == 1) BOOST_TEST(pid == worker_pid);
    worker_pid = pid;
  }
  ::kill(agent, SIGTERM);
  const int status = wait_status(agent);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(!fs::exists(socket));
  BOOST_TEST(::kill(worker_pid, 0) != 0);  // ended with the agent
  fs::remove_all(dir);
}

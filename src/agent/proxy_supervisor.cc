#include "agent/proxy_supervisor.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/http/http_client.h"

namespace weft::agent {

using std::chrono::milliseconds;
using weft::http::httpRequest;
using weft::http::HttpResult;

namespace {
// The first restart is immediate (a crash costs < 1 s of service); repeated crashes back off
// to at most 10 s, and a proxy that stayed up for 30 s starts from zero again.
constexpr milliseconds kMaxBackoff{10000};
constexpr std::chrono::seconds kStableAfter{30};

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
           ")";
  }
  return "stopped (status " + std::to_string(status) + ")";
}
}  // namespace

ProxySupervisor::ProxySupervisor(event::Reactor& reactor, Options options, Log log)
    : reactor_(reactor),
      options_(std::move(options)),
      log_(std::move(log)),
      restart_timer_(reactor, [this] { spawn(); }),
      stop_timer_(reactor, [this] {
        if (pid_ > 0) {
          log_("drain time over: stopping weft-proxy (pid " + std::to_string(pid_) + ")");
          kill(pid_, SIGTERM);
        }
      }) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  reactor_.add(signal_fd_, this);
}

ProxySupervisor::~ProxySupervisor() {
  if (signal_fd_ >= 0) {
    reactor_.remove(signal_fd_);
    close(signal_fd_);
  }
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ProxySupervisor::start() { spawn(); }

void ProxySupervisor::spawn() {
  std::vector<std::string> argv = {options_.proxy_bin};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  pid_t pid = fork();
  if (pid < 0) {
    log_(std::string("cannot start weft-proxy: fork: ") + std::strerror(errno));
    restart_timer_.arm(milliseconds(1000));
    return;
  }
  if (pid == 0) {
    // The child: default signal mask, dies with the agent, runs as the proxy user.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (options_.gid >= 0 && (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(options_.gid)) != 0)) {
      dprintf(2, "weft-agent: cannot switch to gid %d: %s\n", options_.gid, std::strerror(errno));
      _exit(126);
    }
    if (options_.uid >= 0 && setuid(static_cast<uid_t>(options_.uid)) != 0) {
      dprintf(2, "weft-agent: cannot switch to uid %d: %s\n", options_.uid, std::strerror(errno));
      _exit(126);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    dprintf(2, "weft-agent: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  pid_ = pid;
  started_at_ = reactor_.now();
  log_("started weft-proxy (pid " + std::to_string(pid) + (restarts_ ? ", restart " + std::to_string(restarts_) : "") +
       ")");
}

void ProxySupervisor::onIoEvent(uint32_t) {
  signalfd_siginfo si;
  while (read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
  }
  int status = 0;
  for (;;) {
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0) break;
    if (p == pid_) onExit(status);
  }
}

void ProxySupervisor::onExit(int status) {
  pid_ = -1;
  if (stopping_) {
    log_("weft-proxy " + describe(status) + " after the drain");
    stop_timer_.disarm();
    if (on_stopped_) on_stopped_();
    return;
  }
  auto up = reactor_.now() - started_at_;
  if (up > kStableAfter) backoff_ = milliseconds(0);
  ++restarts_;
  log_("weft-proxy " + describe(status) + " after " +
       std::to_string(std::chrono::duration_cast<milliseconds>(up).count()) + " ms; restarting in " +
       std::to_string(backoff_.count()) + " ms");
  restart_timer_.arm(backoff_);
  backoff_ = backoff_.count() == 0 ? milliseconds(200) : std::min(backoff_ * 2, kMaxBackoff);
}

void ProxySupervisor::shutdown(milliseconds drain, std::function<void()> done) {
  stopping_ = true;
  on_stopped_ = std::move(done);
  restart_timer_.disarm();
  if (pid_ <= 0) {
    if (on_stopped_) on_stopped_();
    return;
  }
  // Envoy's /drain_listeners: listeners stop taking new connections, in-flight ones finish.
  HttpResult r = httpRequest("POST", "127.0.0.1", options_.admin_port, "/drain_listeners?inboundonly&graceful",
                             milliseconds(1000));
  log_("draining weft-proxy for " + std::to_string(drain.count()) + " ms" +
       (r.status == 200 ? "" : " (drain request: " + (r.error.empty() ? std::to_string(r.status) : r.error) + ")"));
  stop_timer_.arm(drain);
}

}  // namespace weft::agent

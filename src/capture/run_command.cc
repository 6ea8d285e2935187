#include "capture/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::capture {

CommandResult runCommand(const std::vector<std::string>& argv, const std::string& stdin_text,
                         const std::string& netns) {
  CommandResult r;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  pid_t pid = fork();
  if (pid < 0) {
    r.err = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (!netns.empty()) {
      int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        dprintf(2, "cannot enter network namespace %s: %s\n", netns.c_str(), std::strerror(errno));
        _exit(126);
      }
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Feed stdin and drain both outputs together: a large output must not block the child.
  size_t written = 0;
  if (stdin_text.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  signal(SIGPIPE, SIG_IGN);
  bool out_open = true, err_open = true;
  while (out_open || err_open || in[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in[1] >= 0) {
      idx_in = n;
      fds[n++] = {in[1], POLLOUT, 0};
    }
    if (out_open) {
      idx_out = n;
      fds[n++] = {out[0], POLLIN, 0};
    }
    if (err_open) {
      idx_err = n;
      fds[n++] = {err[0], POLLIN, 0};
    }
    if (poll(fds, static_cast<nfds_t>(n), -1) < 0 && errno != EINTR) break;
    if (idx_in >= 0 && fds[idx_in].revents) {
      ssize_t w = write(in[1], stdin_text.data() + written, stdin_text.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == stdin_text.size()) {
        close(in[1]);
        in[1] = -1;
      }
    }
    char buf[8192];
    if (idx_out >= 0 && fds[idx_out].revents) {
      ssize_t k = read(out[0], buf, sizeof(buf));
      if (k > 0)
        r.out.append(buf, static_cast<size_t>(k));
      else
        out_open = false;
    }
    if (idx_err >= 0 && fds[idx_err].revents) {
      ssize_t k = read(err[0], buf, sizeof(buf));
      if (k > 0)
        r.err.append(buf, static_cast<size_t>(k));
      else
        err_open = false;
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace weft::capture

/* How a unit-test executable starts (see test.h, which includes this
 * file): before main(), its arguments pick the mode: --list, one test by
 * name in this process (main() then runs with only that test), or, with
 * none, every test of the compiled-in list, each in its own process (this
 * executable again, given the test's name, in its own process group) with
 * a timeout, its output captured and shown when it did not pass. */
#ifndef ABACO_TEST_RUNNER_H
#define ABACO_TEST_RUNNER_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t test__child;

static void test__on_signal(int sig) {
  if (test__child > 0)
    kill(-test__child, SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Runs `self name` in its own process group, its output (both streams)
 * into out (at most cap - 1 bytes kept, NUL-terminated), killed after
 * timeout_s. Returns TEST__PASS/FAIL/SKIP; *how says how it ended when it
 * failed, *ms how long it took. */
static int test__spawn(const char *self, const char *name, int timeout_s, char *out, size_t cap,
                       char *how, size_t how_len, long *ms) {
  int fds[2];
  size_t len = 0;
  out[0] = '\0';
  *ms = 0;
  if (pipe(fds) != 0) {
    snprintf(how, how_len, "pipe: %s", strerror(errno));
    return TEST__FAIL;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(how, how_len, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return TEST__FAIL;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl("/proc/self/exe", self, name, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", self, strerror(errno));
    _exit(1);
  }
  setpgid(pid, pid);
  test__child = pid;
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int wstatus = 0, done = 0, timed_out = 0, eof = 0;
  /* Until it exits, not until EOF: a server it started may hold the pipe. */
  while (!done) {
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    if (poll(&p, eof ? 0 : 1, eof ? 2 : 100) == 0 && eof)
      usleep(2000);
    for (;;) {
      char buf[4096];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n == 0)
        eof = 1;
      if (n <= 0)
        break;
      size_t keep = len + 1 < cap ? cap - 1 - len : 0;
      if ((size_t)n < keep)
        keep = (size_t)n;
      memcpy(out + len, buf, keep);
      len += keep;
    }
    if (waitpid(pid, &wstatus, WNOHANG) == pid)
      done = 1;
    clock_gettime(CLOCK_MONOTONIC, &t);
    *ms = (long)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (!done && *ms >= timeout_s * 1000L) {
      kill(-pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      done = timed_out = 1;
    }
  }
  for (ssize_t n; len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0;)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  test__child = 0;
  how[0] = '\0';
  if (timed_out)
    snprintf(how, how_len, "timed out after %d s", timeout_s);
  else if (WIFSIGNALED(wstatus))
    snprintf(how, how_len, "killed by signal %d", WTERMSIG(wstatus));
  else if (WEXITSTATUS(wstatus) == 0)
    return TEST__PASS;
  else if (WEXITSTATUS(wstatus) == TEST__EXIT_SKIP)
    return TEST__SKIP;
  else
    snprintf(how, how_len, "exit %d", WEXITSTATUS(wstatus));
  return TEST__FAIL;
}

/* Prints the lines of out that start with prefix (all of them, indented,
 * if prefix is NULL); returns how many. */
static int test__print_lines(const char *out, const char *prefix) {
  int printed = 0;
  for (const char *line = out, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
    nl = strchr(line, '\n');
    int n = nl ? (int)(nl - line) : (int)strlen(line);
    if (prefix == NULL)
      printed += fprintf(stderr, "     | %.*s\n", n, line) > 0;
    else if (strncmp(line, prefix, strlen(prefix)) == 0)
      printed += fprintf(stderr, "%.*s\n", n, line) > 0;
  }
  return printed;
}

static int test__run_all(const char *self) {
  const char *env = getenv("ABACO_TEST_TIMEOUT");
  int timeout_s = env && atoi(env) > 0 ? atoi(env) : 60;
  size_t cap = 256 * 1024;
  char *out = malloc(cap);
  if (out == NULL)
    return 1;
  signal(SIGINT, test__on_signal);
  signal(SIGTERM, test__on_signal);
  int n[4] = {0};
  for (const char *p = test__list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char name[256], how[128];
    long ms = 0;
    snprintf(name, sizeof name, "%.*s", (int)len, p);
    p += len + (end != NULL);
    int r = test__spawn(self, name, timeout_s, out, cap, how, sizeof how, &ms);
    n[r]++;
    if (r == TEST__PASS) {
      fprintf(stderr, "ok   %s (%ld ms)\n", name, ms);
    } else if (r == TEST__SKIP) {
      if (test__print_lines(out, "SKIP ") == 0) /* with the reason */
        fprintf(stderr, "SKIP %s\n", name);
    } else {
      fprintf(stderr, "FAIL %s (%s, %ld ms)\n", name, how, ms);
      test__print_lines(out, NULL);
    }
  }
  free(out);
  fprintf(stderr, "%d passed, %d failed, %d skipped\n", n[TEST__PASS], n[TEST__FAIL],
          n[TEST__SKIP]);
  if (n[TEST__FAIL] > 0 || n[TEST__PASS] + n[TEST__SKIP] == 0)
    return 1;
  return n[TEST__PASS] == 0 ? TEST__EXIT_SKIP : 0;
}

/* main() returned or exited without TEST_EXIT (a setup that gave up):
 * never a pass for a test that did not run. */
static void test__atexit(void) {
  if (test__s.exited || test__s.main_skipped)
    return;
  if (test__s.ran == 0 || test__s.failed > 0 || test__failures > 0) {
    fprintf(stderr, "FAIL %s: main() ended before its RUN_TEST or without TEST_EXIT\n",
            test__s.only);
    fflush(NULL);
    _exit(1);
  }
}

/* Before main(): glibc passes the program's arguments to constructors. */
__attribute__((constructor)) static void test__init(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && argv[1][0] == '-' && strcmp(argv[1], "--list") != 0)) {
    fprintf(stderr, "usage: %s [--list | NAME]\n", argv[0]);
    exit(2);
  }
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (const char *p = test__list; *p; p++)
      putchar(*p == ',' ? '\n' : *p);
    if (test__list[0] != '\0')
      putchar('\n');
    exit(0);
  }
  if (argc == 2) {
    if (!test__listed(argv[1])) {
      fprintf(stderr, "%s: no test %s (--list shows them)\n", argv[0], argv[1]);
      exit(2);
    }
    test__s.only = argv[1];
    atexit(test__atexit);
    return;
  }
  if (test__list[0] != '\0') /* else: every test in this process */
    exit(test__run_all(argv[0]));
}

#endif

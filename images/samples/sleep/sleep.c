/* Sample actor "sleep": sleeps $MSG seconds (fractions allowed, default 1),
 * printing a line before and after, for tests of running executions,
 * max_run_time kills and concurrency. SIGTERM ends it at once (as PID 1 in
 * a container it would otherwise be ignored). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void on_term(int sig) {
  static const char line[] = "sleep: terminated\n";
  (void)sig;
  (void)!write(1, line, sizeof line - 1);
  _exit(143);
}

int main(void) {
  const char *msg = getenv("MSG");
  double secs = 1;
  if (msg && *msg) {
    char *end;
    secs = strtod(msg, &end);
    if (end == msg || secs < 0 || secs > 1e7) {
      fprintf(stderr, "sleep: bad MSG '%s', want seconds\n", msg);
      return 2;
    }
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  printf("sleep: start %g s\n", secs);
  fflush(stdout);
  struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  printf("sleep: end\n");
  return fflush(stdout) == 0 ? 0 : 1;
}

/* Sample actor "probe": reports what the container was given (docs/api.md "What a container sees"),
 * one `key=value` line each, for tests of the worker's container contract:
 *   uid=<uid> gid=<gid>           who it runs as
 *   results_sock=yes|no           /_abaco_results.sock is there
 *   results_send=ok|<error>       a datagram could be sent to it (as this uid)
 *   binary_fifo=yes|no            /_abaco_binary_data is there
 *   docker_sock=yes|no            /var/run/docker.sock is there
 *   mem_limit=<bytes>|unknown     the memory cgroup's limit
 * Then sleeps $MSG seconds (default 0) so a test can inspect the running
 * container. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 ? "yes" : "no";
}

static void send_probe(void) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, "/_abaco_results.sock");
  if (fd < 0 || sendto(fd, "probe", 5, 0, (struct sockaddr *)&addr, sizeof addr) < 0)
    printf("results_send=%s\n", strerror(errno));
  else
    printf("results_send=ok\n");
  if (fd >= 0)
    close(fd);
}

static void mem_limit(void) {
  static const char *const files[] = {"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                      "/sys/fs/cgroup/memory.max", NULL};
  for (int i = 0; files[i]; i++) {
    FILE *f = fopen(files[i], "r");
    char buf[64];
    if (f && fgets(buf, sizeof buf, f)) {
      buf[strcspn(buf, "\n")] = '\0';
      printf("mem_limit=%s\n", buf);
      fclose(f);
      return;
    }
    if (f)
      fclose(f);
  }
  printf("mem_limit=unknown\n");
}

static void on_term(int sig) {
  (void)sig;
  _exit(143);
}

int main(void) {
  printf("uid=%u gid=%u\n", (unsigned)getuid(), (unsigned)getgid());
  printf("results_sock=%s\n", exists("/_abaco_results.sock"));
  send_probe();
  printf("binary_fifo=%s\n", exists("/_abaco_binary_data"));
  printf("docker_sock=%s\n", exists("/var/run/docker.sock"));
  mem_limit();
  fflush(stdout);
  signal(SIGTERM, on_term);
  const char *msg = getenv("MSG");
  double secs = msg && *msg ? strtod(msg, NULL) : 0;
  if (secs > 0 && secs < 1e6) {
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
      ;
  }
  printf("probe: done\n");
  return fflush(stdout) == 0 ? 0 : 1;
}

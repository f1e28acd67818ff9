/* Sample actor "results": sends $MSG (or "result" when empty/unset) as one
 * datagram to the unix datagram socket /_abaco_results.sock, where the
 * worker turns each datagram into one execution result (docs/api.md "What a container sees").
 * RESULTS_COUNT=N sends N datagrams; with RESULTS_NUMBERED=1 the i-th
 * (from 1) carries "<msg> <i>" so ordering can be checked. Prints each
 * datagram it sent; exits 1 when the socket is missing or refuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RESULTS_SOCK "/_abaco_results.sock"

int main(void) {
  const char *msg = getenv("MSG");
  const char *count_s = getenv("RESULTS_COUNT");
  const char *numbered_s = getenv("RESULTS_NUMBERED");
  int numbered = numbered_s && strcmp(numbered_s, "1") == 0;
  long count = 1;
  if (!msg || !*msg)
    msg = "result";
  if (count_s && *count_s) {
    char *end;
    count = strtol(count_s, &end, 10);
    if (*end != '\0' || count < 0 || count > 1000000) {
      fprintf(stderr, "results: bad RESULTS_COUNT '%s'\n", count_s);
      return 2;
    }
  }

  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) {
    fprintf(stderr, "results: socket: %s\n", strerror(errno));
    return 1;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, RESULTS_SOCK);

  size_t cap = strlen(msg) + 32;
  char *buf = malloc(cap);
  if (!buf) {
    fprintf(stderr, "results: out of memory\n");
    close(fd);
    return 1;
  }
  int rc = 0;
  for (long i = 1; i <= count; i++) {
    int n = numbered ? snprintf(buf, cap, "%s %ld", msg, i) : snprintf(buf, cap, "%s", msg);
    if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
      fprintf(stderr, "results: send to %s: %s\n", RESULTS_SOCK, strerror(errno));
      rc = 1;
      break;
    }
    printf("sent: %s\n", buf);
  }
  free(buf);
  close(fd);
  if (fflush(stdout) != 0)
    rc = 1;
  return rc;
}

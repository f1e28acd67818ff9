/* Sample actor "binary": reads the FIFO /_abaco_binary_data (a binary
 * message, docs/api.md "What a container sees") to EOF and prints `bytes: N`. Exits 1 when the FIFO
 * cannot be opened or read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BINARY_FIFO "/_abaco_binary_data"

int main(void) {
  int fd = open(BINARY_FIFO, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "binary: open %s: %s\n", BINARY_FIFO, strerror(errno));
    return 1;
  }
  char buf[65536];
  unsigned long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "binary: read %s: %s\n", BINARY_FIFO, strerror(errno));
      close(fd);
      return 1;
    }
    total += (unsigned long long)n;
  }
  close(fd);
  printf("bytes: %llu\n", total);
  return fflush(stdout) == 0 ? 0 : 1;
}

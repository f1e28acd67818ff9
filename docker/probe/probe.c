/* probe -- the health check of the platform's FROM-scratch images, which
 * have no shell, curl or nc. One small static binary (scripts/images.sh
 * builds it with gcc -static), copied into each image as /probe:
 *
 *   probe http://HOST:PORT/PATH  GET over HTTP/1.0; healthy on 2xx/3xx
 *   probe tcp HOST:PORT          something accepts TCP connections there
 *   probe peer PORT [PORT...]    this container's network namespace holds an
 *                                ESTABLISHED TCP connection to each remote
 *                                PORT (read from /proc/net/tcp and tcp6):
 *                                the daemon is connected to its servers
 *   probe proc NAME              a process named NAME (/proc/<pid>/comm)
 *                                lives in this pid namespace, not a zombie:
 *                                for a daemon that holds no connection
 *
 * Exit status 0 = healthy, 1 = not, 2 = usage. At most 5 seconds (alarm).
 * Addresses are numeric (IPv4, [IPv6]) or localhost. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#define TIMEOUT_S 5

static int usage(void) {
  fprintf(stderr, "usage: probe http://HOST:PORT/PATH | probe tcp HOST:PORT | probe peer PORT... | probe proc NAME\n");
  return 2;
}

/* Splits "HOST:PORT" (or "[V6]:PORT") into host and port; 0 on success. */
static int split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz) {
  const char *colon;
  size_t hl;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':')
      return -1;
    hl = (size_t)(end - s - 1);
    s++;
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return -1;
    hl = (size_t)(colon - s);
  }
  if (hl == 0 || hl >= hostsz || strlen(colon + 1) == 0 || strlen(colon + 1) >= portsz)
    return -1;
  memcpy(host, s, hl);
  host[hl] = '\0';
  strcpy(port, colon + 1);
  return 0;
}

/* Numeric addresses only (and "localhost"): a static glibc cannot load
 * the NSS modules a name lookup needs, and a health check probes its own
 * container through the loopback address anyway. */
static int dial(const char *host, const char *port) {
  struct sockaddr_storage ss;
  socklen_t len;
  char *end;
  long p = strtol(port, &end, 10);
  int fd;
  memset(&ss, 0, sizeof ss);
  if (*end || p <= 0 || p > 65535) {
    fprintf(stderr, "probe: bad port '%s'\n", port);
    return -1;
  }
  if (strcmp(host, "localhost") == 0)
    host = "127.0.0.1";
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)p);
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)p);
    len = sizeof *a6;
  } else {
    fprintf(stderr, "probe: '%s' is not a numeric address\n", host);
    return -1;
  }
  fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) {
    fprintf(stderr, "probe: socket: %s\n", strerror(errno));
    return -1;
  }
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    fprintf(stderr, "probe: cannot connect to %s:%s: %s\n", host, port, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static int probe_tcp(const char *hostport) {
  char host[256], port[16];
  int fd;
  if (split_hostport(hostport, host, sizeof host, port, sizeof port) != 0)
    return usage();
  fd = dial(host, port);
  if (fd < 0)
    return 1;
  close(fd);
  return 0;
}

static int probe_http(const char *url) {
  char hostport[300], host[256], port[16], req[1024], buf[64];
  const char *rest = url + strlen("http://"), *path = strchr(rest, '/');
  size_t hl = path ? (size_t)(path - rest) : strlen(rest);
  int fd, n, status;
  size_t got = 0;
  if (hl == 0 || hl >= sizeof hostport)
    return usage();
  memcpy(hostport, rest, hl);
  hostport[hl] = '\0';
  if (!strchr(hostport, ':')) {
    if (strlen(hostport) + 3 >= sizeof hostport)
      return usage();
    strcat(hostport, ":80");
  }
  if (split_hostport(hostport, host, sizeof host, port, sizeof port) != 0)
    return usage();
  n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: abaco-probe\r\n\r\n",
               path ? path : "/", hostport);
  if (n < 0 || (size_t)n >= sizeof req)
    return usage();
  fd = dial(host, port);
  if (fd < 0)
    return 1;
  if (write(fd, req, (size_t)n) != n) {
    fprintf(stderr, "probe: write: %s\n", strerror(errno));
    close(fd);
    return 1;
  }
  while (got < sizeof buf - 1) {
    ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
    fprintf(stderr, "probe: %s: no HTTP status line in the answer\n", url);
    return 1;
  }
  if (status < 200 || status >= 400) {
    fprintf(stderr, "probe: %s: HTTP %d\n", url, status);
    return 1;
  }
  return 0;
}

/* 1 when /proc/net/<file> lists an ESTABLISHED (state 01) connection whose
 * remote port is `port`; 0 when not; -1 when the file cannot be read. */
static int established_to(const char *file, unsigned port) {
  char line[512];
  int found = 0;
  FILE *f = fopen(file, "r");
  if (!f)
    return -1;
  if (!fgets(line, sizeof line, f)) { /* header */
    fclose(f);
    return 0;
  }
  while (fgets(line, sizeof line, f)) {
    char rem[128];
    unsigned rport, state;
    /* "  sl  local_address rem_address   st ..." */
    if (sscanf(line, "%*s %*s %127s %x", rem, &state) != 2)
      continue;
    char *c = strrchr(rem, ':');
    if (!c || sscanf(c + 1, "%x", &rport) != 1)
      continue;
    if (state == 0x01 && rport == port) {
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

static int probe_peer(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    char *end;
    long p = strtol(argv[i], &end, 10);
    if (*end || p <= 0 || p > 65535)
      return usage();
    int v4 = established_to("/proc/net/tcp", (unsigned)p);
    int v6 = established_to("/proc/net/tcp6", (unsigned)p);
    if (v4 < 0 && v6 < 0) {
      fprintf(stderr, "probe: cannot read /proc/net/tcp: %s\n", strerror(errno));
      return 1;
    }
    if (v4 != 1 && v6 != 1) {
      fprintf(stderr, "probe: no established connection to port %ld\n", p);
      return 1;
    }
  }
  return 0;
}

/* A live (non-zombie) process whose comm is `name`. */
static int probe_proc(const char *name) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int found = 0;
  if (!d) {
    fprintf(stderr, "probe: cannot read /proc: %s\n", strerror(errno));
    return 1;
  }
  while (!found && (e = readdir(d)) != NULL) {
    char path[300], comm[64], state = 0;
    FILE *f;
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    f = fopen(path, "r");
    if (!f)
      continue;
    /* "pid (comm) state ...": comm is at most 15 bytes, without ')' here */
    if (fscanf(f, "%*d (%63[^)]) %c", comm, &state) == 2 && strcmp(comm, name) == 0 &&
        state != 'Z' && state != 'X')
      found = 1;
    fclose(f);
  }
  closedir(d);
  if (!found)
    fprintf(stderr, "probe: no live process named %s\n", name);
  return found ? 0 : 1;
}

int main(int argc, char **argv) {
  alarm(TIMEOUT_S); /* default action of SIGALRM: exit, i.e. unhealthy */
  if (argc == 2 && strncmp(argv[1], "http://", 7) == 0)
    return probe_http(argv[1]);
  if (argc == 3 && strcmp(argv[1], "tcp") == 0)
    return probe_tcp(argv[2]);
  if (argc == 3 && strcmp(argv[1], "proc") == 0)
    return probe_proc(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "peer") == 0)
    return probe_peer(argc - 2, argv + 2);
  return usage();
}

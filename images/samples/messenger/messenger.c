/* Sample actor "messenger": sends a message to another actor through the
 * API, with the container's own credentials, the way an Abaco actor uses
 * its `_abaco_access_token` (docs/api.md "What a container sees"):
 *   MSG = "<actor id> <text>"
 *   POST $_abaco_api_server/actors/<actor id>/messages   {"message": "<text>"}
 *   Authorization: Bearer $_abaco_access_token   (left out when unset)
 * Prints `token=yes|no`, `status=<HTTP status>` and the response body, and
 * exits 0 on a 2xx answer, 1 otherwise. Also prints `configs=<the
 * _actor_configs value>`. Plain HTTP/1.0 over a TCP socket: the API
 * server must be reachable from the container (host network in tests). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *host, const char *port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
  if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1)
    return -1; /* a static binary on scratch has no resolver: numeric hosts only */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, s, n);
    if (k <= 0)
      return -1;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

int main(void) {
  const char *msg = getenv("MSG"), *server = getenv("_abaco_api_server");
  const char *token = getenv("_abaco_access_token"), *configs = getenv("_actor_configs");
  printf("token=%s\n", token && *token ? "yes" : "no");
  printf("configs=%s\n", configs ? configs : "(unset)");
  if (msg == NULL || server == NULL || strncmp(server, "http://", 7) != 0) {
    printf("error=need MSG and an http:// _abaco_api_server\n");
    return 1;
  }
  char target[256] = "", text[1024] = "";
  if (sscanf(msg, "%255s %1023[^\n]", target, text) < 1) {
    printf("error=MSG must be '<actor id> <text>'\n");
    return 1;
  }
  char host[256] = "", port[16] = "80";
  const char *hp = server + 7;
  size_t hl = strcspn(hp, ":/");
  if (hl == 0 || hl >= sizeof(host)) {
    printf("error=bad api server %s\n", server);
    return 1;
  }
  memcpy(host, hp, hl);
  if (hp[hl] == ':')
    snprintf(port, sizeof(port), "%.*s", (int)strcspn(hp + hl + 1, "/"), hp + hl + 1);
  int fd = connect_to(host, port);
  if (fd < 0) {
    printf("error=cannot connect to %s:%s\n", host, port);
    return 1;
  }
  char body[1200], auth[8192] = "", req[12288];
  snprintf(body, sizeof(body), "{\"message\": \"%s\"}", text);
  if (token && *token)
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
  int n = snprintf(req, sizeof(req),
                   "POST /actors/%s/messages HTTP/1.0\r\nHost: %s:%s\r\n%s"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   target, host, port, auth, strlen(body), body);
  if (n < 0 || (size_t)n >= sizeof(req) || write_all(fd, req, (size_t)n) != 0) {
    printf("error=cannot send the request\n");
    close(fd);
    return 1;
  }
  char resp[16384];
  size_t got = 0;
  ssize_t k;
  while (got < sizeof(resp) - 1 && (k = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
    got += (size_t)k;
  resp[got] = '\0';
  close(fd);
  int status = 0;
  if (sscanf(resp, "HTTP/%*s %d", &status) != 1) {
    printf("error=no HTTP answer\n");
    return 1;
  }
  const char *payload = strstr(resp, "\r\n\r\n");
  printf("status=%d\n%s\n", status, payload ? payload + 4 : "");
  return status >= 200 && status < 300 ? 0 : 1;
}

/* Unit tests for the Docker client's parts that need no engine: the log
 * stream demultiplexer (frames split across calls, partial headers, stdout
 * and stderr interleaved, max/truncation, raw streams), stats totals from
 * realistic engine samples, `dd` parsing, argument checks, an unreachable
 * engine, and the HTTP handling (error messages, 404/409 mapping, logs cut
 * short at max) against a tiny fake engine on a unix socket in a thread. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "actor/docker.h"
#include "actor/errors.h"
#include "test.h"

/* ---- frames ---- */

/* Appends one frame (type, 0,0,0, big-endian length, payload) to b. */
static size_t put_frame(unsigned char *b, int type, const char *payload, size_t n) {
  b[0] = (unsigned char)type;
  b[1] = b[2] = b[3] = 0;
  b[4] = (unsigned char)(n >> 24);
  b[5] = (unsigned char)(n >> 16);
  b[6] = (unsigned char)(n >> 8);
  b[7] = (unsigned char)n;
  memcpy(b + 8, payload, n);
  return 8 + n;
}

/* stdout "hello\n", stderr "oops\n", stdout "", stdout "bye\n". */
static size_t sample_stream(unsigned char *b) {
  size_t n = 0;
  n += put_frame(b + n, 1, "hello\n", 6);
  n += put_frame(b + n, 2, "oops\n", 5);
  n += put_frame(b + n, 1, "", 0);
  n += put_frame(b + n, 1, "bye\n", 4);
  return n;
}

static void test_demux_whole(void) {
  unsigned char in[128];
  size_t n = sample_stream(in);
  dkr_buf_t b = {0};
  ASSERT_EQ_INT(dkr_demux(in, n, &b), n);
  ASSERT_EQ_STR(b.data, "hello\noops\nbye\n");
  ASSERT_EQ_INT(b.len, 15);
  ASSERT_EQ_INT(b.truncated, 0);
  ASSERT_EQ_INT(b.raw, 0);
  dkr_buf_free(&b);
  ASSERT_TRUE(b.data == NULL);
  dkr_buf_free(NULL);
}

/* Feeds the stream in chunks of every size through a carry buffer, the way
 * a network reader does; the output must not depend on the split. */
static void test_demux_split(void) {
  unsigned char in[128];
  size_t n = sample_stream(in);
  for (size_t chunk = 1; chunk <= n; chunk++) {
    unsigned char carry[128];
    size_t carry_len = 0, pos = 0;
    dkr_buf_t b = {0};
    while (pos < n) {
      size_t take = n - pos < chunk ? n - pos : chunk;
      memcpy(carry + carry_len, in + pos, take);
      carry_len += take;
      pos += take;
      size_t used = dkr_demux(carry, carry_len, &b);
      ASSERT_TRUE(used <= carry_len);
      memmove(carry, carry + used, carry_len - used);
      carry_len -= used;
    }
    ASSERT_EQ_INT(carry_len, 0);
    ASSERT_EQ_STR(b.data, "hello\noops\nbye\n");
    dkr_buf_free(&b);
  }
}

static void test_demux_partial(void) {
  unsigned char in[64];
  size_t n = put_frame(in, 1, "abcdef", 6);
  dkr_buf_t b = {0};
  /* Partial header: nothing consumed, nothing produced. */
  ASSERT_EQ_INT(dkr_demux(in, 5, &b), 0);
  ASSERT_EQ_INT(b.len, 0);
  /* Whole header, partial payload: the frame waits. */
  ASSERT_EQ_INT(dkr_demux(in, 10, &b), 0);
  ASSERT_EQ_INT(b.len, 0);
  ASSERT_EQ_INT(dkr_demux(in, 0, &b), 0);
  /* A complete frame then a partial one: only the first is consumed. */
  size_t m = n + put_frame(in + n, 2, "xyz", 3);
  ASSERT_EQ_INT(dkr_demux(in, m - 1, &b), n);
  ASSERT_EQ_STR(b.data, "abcdef");
  ASSERT_EQ_INT(dkr_demux(in + n, m - n, &b), m - n);
  ASSERT_EQ_STR(b.data, "abcdefxyz");
  dkr_buf_free(&b);
}

/* Lengths above 255 and above 65535 read all four big-endian bytes. */
static void test_demux_big_frames(void) {
  size_t sizes[] = {300, 70000};
  for (size_t k = 0; k < 2; k++) {
    size_t sz = sizes[k];
    char *payload = malloc(sz);
    unsigned char *in = malloc(sz + 8);
    for (size_t i = 0; i < sz; i++)
      payload[i] = (char)('a' + i % 26);
    size_t n = put_frame(in, 2, payload, sz);
    dkr_buf_t b = {0};
    ASSERT_EQ_INT(dkr_demux(in, n - 1, &b), 0);
    ASSERT_EQ_INT(dkr_demux(in, n, &b), n);
    ASSERT_EQ_INT(b.len, sz);
    ASSERT_TRUE(b.data && memcmp(b.data, payload, sz) == 0 && b.data[sz] == '\0');
    dkr_buf_free(&b);
    free(in);
    free(payload);
  }
}

static void test_demux_max(void) {
  unsigned char in[128];
  size_t n = sample_stream(in);
  /* max inside the second frame: the rest is consumed and dropped. */
  dkr_buf_t b = {.max = 8};
  ASSERT_EQ_INT(dkr_demux(in, n, &b), n);
  ASSERT_EQ_STR(b.data, "hello\noo");
  ASSERT_EQ_INT(b.len, 8);
  ASSERT_EQ_INT(b.truncated, 1);
  /* More input later stays dropped. */
  ASSERT_EQ_INT(dkr_demux(in, n, &b), n);
  ASSERT_EQ_INT(b.len, 8);
  dkr_buf_free(&b);

  /* Exactly max bytes: not truncated. */
  dkr_buf_t e = {.max = 15};
  ASSERT_EQ_INT(dkr_demux(in, n, &e), n);
  ASSERT_EQ_INT(e.len, 15);
  ASSERT_EQ_INT(e.truncated, 0);
  /* One byte more is. */
  unsigned char one[16];
  size_t m = put_frame(one, 1, "!", 1);
  ASSERT_EQ_INT(dkr_demux(one, m, &e), m);
  ASSERT_EQ_INT(e.len, 15);
  ASSERT_EQ_INT(e.truncated, 1);
  dkr_buf_free(&e);

  /* max = 0 is no limit. */
  dkr_buf_t u = {0};
  ASSERT_EQ_INT(dkr_demux(in, n, &u), n);
  ASSERT_EQ_INT(u.truncated, 0);
  dkr_buf_free(&u);
}

static void test_demux_raw(void) {
  const char *tty = "plain tty output\r\nline 2\r\n";
  dkr_buf_t b = {.raw = 1};
  size_t n = strlen(tty);
  ASSERT_EQ_INT(dkr_demux((const unsigned char *)tty, 5, &b), 5);
  ASSERT_EQ_INT(dkr_demux((const unsigned char *)tty + 5, n - 5, &b), n - 5);
  ASSERT_EQ_STR(b.data, tty);
  dkr_buf_free(&b);

  /* A raw stream with max. */
  dkr_buf_t m = {.raw = 1, .max = 5};
  ASSERT_EQ_INT(dkr_demux((const unsigned char *)tty, n, &m), n);
  ASSERT_EQ_STR(m.data, "plain");
  ASSERT_EQ_INT(m.truncated, 1);
  dkr_buf_free(&m);

  /* Not framed after a good frame (type 'p' > 2): the rest passes through. */
  unsigned char in[128];
  size_t k = put_frame(in, 1, "ok\n", 3);
  memcpy(in + k, "plain text!", 11);
  dkr_buf_t s = {0};
  ASSERT_EQ_INT(dkr_demux(in, k + 11, &s), k + 11);
  ASSERT_EQ_STR(s.data, "ok\nplain text!");
  ASSERT_EQ_INT(s.raw, 1);
  dkr_buf_free(&s);

  /* Non-zero padding is not a header either. */
  unsigned char bad[16] = {1, 0, 1, 0, 0, 0, 0, 1, 'x'};
  dkr_buf_t p = {0};
  ASSERT_EQ_INT(dkr_demux(bad, 9, &p), 9);
  ASSERT_EQ_INT(p.raw, 1);
  ASSERT_EQ_INT(p.len, 9);
  dkr_buf_free(&p);
}

/* ---- stats ---- */

/* Trimmed from a cgroup v1 engine (20.10) for a container that read and
 * wrote on two devices. */
static const char *stats_v1 =
    "{\"read\":\"2026-11-22T01:35:13.601261555Z\",\"preread\":\"0001-01-01T00:00:00Z\","
    "\"pids_stats\":{\"current\":1},"
    "\"blkio_stats\":{\"io_service_bytes_recursive\":["
    "{\"major\":8,\"minor\":0,\"op\":\"Read\",\"value\":4096},"
    "{\"major\":8,\"minor\":0,\"op\":\"Write\",\"value\":8192},"
    "{\"major\":8,\"minor\":0,\"op\":\"Sync\",\"value\":8192},"
    "{\"major\":8,\"minor\":0,\"op\":\"Async\",\"value\":4096},"
    "{\"major\":8,\"minor\":0,\"op\":\"Discard\",\"value\":0},"
    "{\"major\":8,\"minor\":0,\"op\":\"Total\",\"value\":12288},"
    "{\"major\":253,\"minor\":1,\"op\":\"Read\",\"value\":100},"
    "{\"major\":253,\"minor\":1,\"op\":\"Write\",\"value\":20},"
    "{\"major\":253,\"minor\":1,\"op\":\"Total\",\"value\":120}],"
    "\"io_serviced_recursive\":[],\"io_queue_recursive\":[],\"io_service_time_recursive\":[],"
    "\"io_wait_time_recursive\":[],\"io_merged_recursive\":[],\"io_time_recursive\":[],"
    "\"sectors_recursive\":[]},"
    "\"num_procs\":0,\"storage_stats\":{},"
    "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":31393933,\"percpu_usage\":[17294991,14098942],"
    "\"usage_in_kernelmode\":10000000,\"usage_in_usermode\":10000000},"
    "\"system_cpu_usage\":880040000000,\"online_cpus\":2,"
    "\"throttling_data\":{\"periods\":0,\"throttled_periods\":0,\"throttled_time\":0}},"
    "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0,\"usage_in_kernelmode\":0,"
    "\"usage_in_usermode\":0},\"throttling_data\":{\"periods\":0,\"throttled_periods\":0,"
    "\"throttled_time\":0}},"
    "\"memory_stats\":{\"usage\":774144,\"max_usage\":4071424,\"limit\":8324354048},"
    "\"name\":\"/bold_morse\",\"id\":\"3b23e4381dc4\"}";

/* cgroup v2 spells the ops in lower case and has no Total. */
static const char *stats_v2 =
    "{\"blkio_stats\":{\"io_service_bytes_recursive\":["
    "{\"major\":254,\"minor\":0,\"op\":\"read\",\"value\":1000000},"
    "{\"major\":254,\"minor\":0,\"op\":\"write\",\"value\":5000000000}]},"
    "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":12345678901234}}}";

/* What the engine answers for an exited container. */
static const char *stats_exited =
    "{\"read\":\"0001-01-01T00:00:00Z\",\"pids_stats\":{},"
    "\"blkio_stats\":{\"io_service_bytes_recursive\":null},"
    "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":0}},\"memory_stats\":{}}";

static void check_totals(const char *text, int64_t want_cpu, int64_t want_io) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  ASSERT_TRUE(j != NULL);
  int64_t cpu = -1, io = -1;
  dkr_stats_totals(j, &cpu, &io);
  ASSERT_EQ_INT(cpu, want_cpu);
  ASSERT_EQ_INT(io, want_io);
  json_decref(j);
}

static void test_stats_totals(void) {
  check_totals(stats_v1, 31393933, 4096 + 8192 + 100 + 20);
  check_totals(stats_v2, 12345678901234LL, 5001000000LL);
  check_totals(stats_exited, 0, 0);
  check_totals("{}", 0, 0);
  check_totals("{\"cpu_stats\":[],\"blkio_stats\":{\"io_service_bytes_recursive\":{}}}", 0, 0);
  /* Entries without an op count; odd entries are ignored. */
  check_totals("{\"blkio_stats\":{\"io_service_bytes_recursive\":[{\"value\":7},3,null,"
               "{\"op\":\"Read\",\"value\":\"x\"}]}}",
               0, 7);
  int64_t cpu = -1, io = -1;
  dkr_stats_totals(NULL, &cpu, &io);
  ASSERT_EQ_INT(cpu, 0);
  ASSERT_EQ_INT(io, 0);
  json_t *j = json_loads(stats_v1, 0, NULL);
  dkr_stats_totals(j, NULL, &io); /* either output may be skipped */
  ASSERT_EQ_INT(io, 12408);
  dkr_stats_totals(j, &cpu, NULL);
  ASSERT_EQ_INT(cpu, 31393933);
  json_decref(j);
}

/* ---- dd parsing and argument checks ---- */

static void test_dd_parsing(void) {
  const char *bad[] = {"", "ftp://host", "unix://", "tcp://",
                       "http://", "http:///x", "/var/run/docker.sock", "npipe:////./pipe/docker"};
  dkr_t *d = (dkr_t *)1;
  ASSERT_EQ_INT(dkr_new(NULL, &d), ACTOR_EINVAL);
  ASSERT_TRUE(d == NULL);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    d = (dkr_t *)1;
    int rc = dkr_new(bad[i], &d);
    if (rc != ACTOR_EINVAL)
      fprintf(stderr, "  dd \"%s\"\n", bad[i]);
    ASSERT_EQ_INT(rc, ACTOR_EINVAL);
    ASSERT_TRUE(d == NULL);
  }
  const char *good[] = {"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375",
                        "http://localhost:2375/", "http://[::1]:2375"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    d = NULL;
    ASSERT_EQ_INT(dkr_new(good[i], &d), 0);
    ASSERT_TRUE(d != NULL);
    dkr_free(d);
  }
  /* Abaco's abaco.conf says unix://var/run/docker.sock: docker-py, which
   * Abaco used, reads unix://path as the absolute /path. */
  const char *unix_dd[][2] = {{"unix://var/run/docker.sock", "/var/run/docker.sock"},
                              {"unix:///var/run/docker.sock", "/var/run/docker.sock"},
                              {"unix://relative/path", "/relative/path"}};
  for (size_t i = 0; i < sizeof unix_dd / sizeof *unix_dd; i++) {
    d = NULL;
    ASSERT_EQ_INT(dkr_new(unix_dd[i][0], &d), 0);
    ASSERT_EQ_STR(dkr_unix_path(d), unix_dd[i][1]);
    dkr_free(d);
  }
  ASSERT_EQ_INT(dkr_new("tcp://127.0.0.1:2375", &d), 0);
  ASSERT_TRUE(dkr_unix_path(d) == NULL);
  dkr_free(d);
  dkr_free(NULL);
}

static void test_bad_arguments(void) {
  dkr_t *d = NULL;
  ASSERT_EQ_INT(dkr_new("unix:///nonexistent/docker.sock", &d), 0);
  char *err = (char *)1;
  json_t *j = (json_t *)1;
  ASSERT_EQ_INT(dkr_container_inspect(d, "", &j, &err), ACTOR_EINVAL);
  ASSERT_TRUE(err == NULL && j == NULL);
  ASSERT_EQ_INT(dkr_container_inspect(d, "..", &j, &err), ACTOR_EINVAL);
  ASSERT_EQ_INT(dkr_container_start(d, NULL, &err), ACTOR_EINVAL);
  ASSERT_EQ_INT(dkr_image_inspect(d, ".", &j, &err), ACTOR_EINVAL);
  ASSERT_EQ_INT(dkr_container_kill(d, "abc", "", &err), ACTOR_EINVAL);
  char *id = (char *)1;
  json_t *notobj = json_array();
  ASSERT_EQ_INT(dkr_container_create(d, NULL, notobj, &id, &err), ACTOR_EINVAL);
  ASSERT_TRUE(id == NULL);
  json_decref(notobj);
  dkr_free(d);
}

/* No engine on either address: ACTOR_ECONN with a message, promptly. */
static void test_unreachable(void) {
  const char *dds[] = {"unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"};
  for (size_t i = 0; i < 2; i++) {
    dkr_t *d = NULL;
    ASSERT_EQ_INT(dkr_new(dds[i], &d), 0);
    char *err = NULL;
    ASSERT_EQ_INT(dkr_ping(d, &err), ACTOR_ECONN);
    ASSERT_TRUE(err != NULL && strstr(err, dds[i]) != NULL);
    free(err);
    err = NULL;
    char *logs = NULL;
    size_t len = 1;
    int trunc = 1;
    ASSERT_EQ_INT(dkr_container_logs(d, "abc", 0, &logs, &len, &trunc, &err), ACTOR_ECONN);
    ASSERT_TRUE(logs == NULL && len == 0 && trunc == 0);
    free(err);
    /* err may be NULL. */
    ASSERT_EQ_INT(dkr_ping(d, NULL), ACTOR_ECONN);
    dkr_free(d);
  }
}

/* ---- a fake engine ---- */

/* One canned HTTP answer per connection, in order; records request lines. */
typedef struct {
  int lfd;
  const char *const *answers; /* header block (without the blank line) */
  const unsigned char *const *bodies;
  const size_t *body_lens;
  int n;
  char requests[8][256];
} fake_t;

static void *fake_run(void *arg) {
  fake_t *f = arg;
  for (int i = 0; i < f->n; i++) {
    int c = accept(f->lfd, NULL, NULL);
    if (c < 0)
      return NULL;
    char req[4096];
    size_t got = 0;
    while (got < sizeof req - 1) {
      ssize_t k = read(c, req + got, sizeof req - 1 - got);
      if (k <= 0)
        break;
      got += (size_t)k;
      req[got] = '\0';
      if (strstr(req, "\r\n\r\n"))
        break;
    }
    req[got] = '\0';
    char *eol = strstr(req, "\r\n");
    if (eol)
      *eol = '\0';
    snprintf(f->requests[i], sizeof f->requests[i], "%.255s", req);
    char head[512];
    int hn = snprintf(head, sizeof head, "%s\r\nContent-Length: %zu\r\n\r\n", f->answers[i],
                      f->body_lens[i]);
    (void)!write(c, head, (size_t)hn);
    /* Small pieces, so frames and headers arrive split. */
    for (size_t off = 0; off < f->body_lens[i];) {
      size_t piece = f->body_lens[i] - off < 7 ? f->body_lens[i] - off : 7;
      if (f->body_lens[i] > 4096)
        piece = f->body_lens[i] - off; /* big bodies in one go */
      ssize_t k = write(c, f->bodies[i] + off, piece);
      if (k <= 0)
        break;
      off += (size_t)k;
    }
    close(c);
  }
  return NULL;
}

static int fake_listen(char *path, size_t cap) {
  snprintf(path, cap, "/tmp/abaco-test-dkr-%d.sock", (int)getpid());
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
    fprintf(stderr, "fake engine: %s\n", strerror(errno));
    return -1;
  }
  return fd;
}

static void test_fake_engine(void) {
  char path[108], dd[128];
  int lfd = fake_listen(path, sizeof path);
  ASSERT_TRUE(lfd >= 0);
  if (lfd < 0)
    return;
  snprintf(dd, sizeof dd, "unix://%s", path);

  /* Logs: three frames; then a 1 MiB frame cut at max; then a tty stream;
   * then errors. */
  static unsigned char logs1[64], logs2[(1 << 20) + 8];
  size_t l1 = sample_stream(logs1);
  char *big = malloc(1 << 20);
  memset(big, 'B', 1 << 20);
  size_t l2 = put_frame(logs2, 1, big, 1 << 20);
  free(big);
  static const char tty[] = "tty\r\n";
  static const char err500[] = "{\"message\":\"boom: something broke\"}";
  static const char err409[] = "{\"message\":\"Conflict. The container name \\\"/x\\\" is in use\"}";
  static const char err404[] = "{\"message\":\"No such container: nope\"}";
  static const char text502[] = "bad gateway\n";
  static const char wait3[] = "{\"StatusCode\":3,\"Error\":null}";
  static const char notjson[] = "{\"Id\":";
  const char *answers[] = {"HTTP/1.1 200 OK",
                           "HTTP/1.1 200 OK",
                           "HTTP/1.1 200 OK",
                           "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json",
                           "HTTP/1.1 409 Conflict\r\nContent-Type: application/json",
                           "HTTP/1.1 404 Not Found\r\nContent-Type: application/json",
                           "HTTP/1.1 502 Bad Gateway",
                           "HTTP/1.1 200 OK"};
  const unsigned char *bodies[] = {logs1,
                                   logs2,
                                   (const unsigned char *)tty,
                                   (const unsigned char *)err500,
                                   (const unsigned char *)err409,
                                   (const unsigned char *)err404,
                                   (const unsigned char *)text502,
                                   (const unsigned char *)wait3};
  size_t lens[] = {l1,           l2,           sizeof tty - 1,     sizeof err500 - 1,
                   sizeof err409 - 1, sizeof err404 - 1, sizeof text502 - 1, sizeof wait3 - 1};
  fake_t f = {.lfd = lfd, .answers = answers, .bodies = bodies, .body_lens = lens, .n = 8};
  pthread_t th;
  pthread_create(&th, NULL, fake_run, &f);

  dkr_t *d = NULL;
  ASSERT_EQ_INT(dkr_new(dd, &d), 0);
  char *out = NULL, *err = NULL;
  size_t len = 0;
  int trunc = -1;

  ASSERT_EQ_INT(dkr_container_logs(d, "c1", 0, &out, &len, &trunc, &err), 0);
  ASSERT_EQ_STR(out, "hello\noops\nbye\n");
  ASSERT_EQ_INT(len, 15);
  ASSERT_EQ_INT(trunc, 0);
  free(out);

  ASSERT_EQ_INT(dkr_container_logs(d, "c2", 100, &out, &len, &trunc, &err), 0);
  ASSERT_EQ_INT(len, 100);
  ASSERT_EQ_INT(trunc, 1);
  ASSERT_TRUE(out && out[0] == 'B' && out[99] == 'B' && out[100] == '\0');
  free(out);

  ASSERT_EQ_INT(dkr_container_logs(d, "c3", 0, &out, &len, &trunc, &err), 0);
  ASSERT_EQ_STR(out, "tty\r\n");
  free(out);

  ASSERT_EQ_INT(dkr_container_start(d, "c4", &err), ACTOR_EDOCKER);
  ASSERT_EQ_STR(err, "boom: something broke");
  free(err);

  json_t *spec = json_pack("{s:s}", "Image", "x");
  char *id = NULL;
  ASSERT_EQ_INT(dkr_container_create(d, "x", spec, &id, &err), ACTOR_EEXIST);
  ASSERT_TRUE(err && strstr(err, "is in use"));
  ASSERT_TRUE(id == NULL);
  free(err);
  json_decref(spec);

  ASSERT_EQ_INT(dkr_container_remove(d, "nope", &err), 0);
  ASSERT_TRUE(err == NULL);

  json_t *j = NULL;
  ASSERT_EQ_INT(dkr_container_inspect(d, "c7", &j, &err), ACTOR_EDOCKER);
  ASSERT_EQ_STR(err, "bad gateway");
  ASSERT_TRUE(j == NULL);
  free(err);

  int64_t code = 0;
  ASSERT_EQ_INT(dkr_container_wait(d, "c8", 1000, &code, &err), 0);
  ASSERT_EQ_INT(code, 3);

  pthread_join(th, NULL);
  ASSERT_TRUE(strstr(f.requests[0], "GET /v1.41/containers/c1/logs?stdout=1&stderr=1 ") != NULL);
  ASSERT_TRUE(strstr(f.requests[3], "POST /v1.41/containers/c4/start ") != NULL);
  ASSERT_TRUE(strstr(f.requests[4], "POST /v1.41/containers/create?name=x ") != NULL);
  ASSERT_TRUE(strstr(f.requests[5], "DELETE /v1.41/containers/nope?force=1&v=1 ") != NULL);
  ASSERT_TRUE(strstr(f.requests[7], "POST /v1.41/containers/c8/wait ") != NULL);

  /* Bad JSON; escaping of names with '/', ':' and the filters query. */
  const char *answers2[] = {"HTTP/1.1 200 OK", "HTTP/1.1 200 OK"};
  const unsigned char *bodies2[] = {(const unsigned char *)notjson, (const unsigned char *)"[]"};
  size_t lens2[] = {sizeof notjson - 1, 2};
  fake_t g = {.lfd = lfd, .answers = answers2, .bodies = bodies2, .body_lens = lens2, .n = 2};
  pthread_create(&th, NULL, fake_run, &g);
  ASSERT_EQ_INT(dkr_image_inspect(d, "abaco/x:1.0", &j, &err), ACTOR_EPROTO);
  ASSERT_TRUE(err != NULL && j == NULL);
  free(err);
  ASSERT_EQ_INT(dkr_container_list(d, "{\"label\":[\"a=b c\"]}", 1, &j, &err), 0);
  ASSERT_TRUE(json_is_array(j));
  json_decref(j);
  pthread_join(th, NULL);
  ASSERT_TRUE(strstr(g.requests[0], "GET /v1.41/images/abaco%2Fx%3A1.0/json ") != NULL);
  ASSERT_TRUE(strstr(g.requests[1], "GET /v1.41/containers/json?all=1&filters="
                                    "%7B%22label%22%3A%5B%22a%3Db%20c%22%5D%7D ") != NULL);

  dkr_free(d);
  close(lfd);
  unlink(path);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* the fake engine writes to clients that hung up */
  RUN_TEST(test_demux_whole);
  RUN_TEST(test_demux_split);
  RUN_TEST(test_demux_partial);
  RUN_TEST(test_demux_big_frames);
  RUN_TEST(test_demux_max);
  RUN_TEST(test_demux_raw);
  RUN_TEST(test_stats_totals);
  RUN_TEST(test_dd_parsing);
  RUN_TEST(test_bad_arguments);
  RUN_TEST(test_unreachable);
  RUN_TEST(test_fake_engine);
  TEST_EXIT();
}

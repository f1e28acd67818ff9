/* The Docker Engine API client's pure parsers (actor/docker.h): the log
 * stream demultiplexer and the stats totals, no I/O; the client is in
 * docker.c.
 *
 * Design note on logs: the engine frames non-tty logs as
 * [type, 0, 0, 0, len_be32] + payload, and API 1.41 sends no content type
 * telling framed from raw (tty) streams, so the first 8 bytes decide: a
 * valid header means framed, anything else raw. Bytes arrive in arbitrary
 * chunks; an incomplete frame waits in a carry buffer. With a `max`, the
 * carry never holds more than max + 8 bytes: once the pending frame cannot
 * fit, what fits is kept and the transfer is cut short (truncated = 1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actor/docker.h"
#include "docker_int.h"

/* ---- buffers and the demultiplexer (no I/O) ---- */

void dkr__buf_append(dkr_buf_t *b, const void *p, size_t n) {
  if (b->max > 0) {
    size_t room = b->len < b->max ? b->max - b->len : 0;
    if (n > room) {
      b->truncated = 1;
      n = room;
    }
  }
  if (b->nomem || (n == 0 && b->data))
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
      b->nomem = 1;
      return;
    }
    b->data = data;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

int dkr__header_ok(const unsigned char *h) {
  return h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

size_t dkr__frame_len(const unsigned char *h) {
  return ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | (size_t)h[7];
}

size_t dkr_demux(const unsigned char *in, size_t len, dkr_buf_t *out) {
  size_t pos = 0;
  if (out->raw) {
    dkr__buf_append(out, in, len);
    return len;
  }
  while (len - pos >= 8) {
    const unsigned char *h = in + pos;
    if (!dkr__header_ok(h)) {
      /* Not the engine's framing after all: keep the bytes rather than
       * lose the container's output. */
      out->raw = 1;
      dkr__buf_append(out, in + pos, len - pos);
      return len;
    }
    size_t flen = dkr__frame_len(h);
    if (len - pos - 8 < flen)
      break;
    dkr__buf_append(out, h + 8, flen);
    pos += 8 + flen;
  }
  return pos;
}

void dkr_buf_free(dkr_buf_t *b) {
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ---- stats ---- */

static int64_t dkr__json_int(const json_t *v) {
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  if (json_is_real(v))
    return (int64_t)json_real_value(v);
  return 0;
}

void dkr_stats_totals(const json_t *stats, int64_t *cpu_ns, int64_t *io_bytes) {
  int64_t cpu = 0, io = 0;
  if (json_is_object(stats)) {
    const json_t *usage = json_object_get(json_object_get(stats, "cpu_stats"), "cpu_usage");
    cpu = dkr__json_int(json_object_get(usage, "total_usage"));
    const json_t *arr =
        json_object_get(json_object_get(stats, "blkio_stats"), "io_service_bytes_recursive");
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
      /* cgroup v1 lists Read, Write, Sync, Async, Discard and Total per
       * device (Total = Read + Write + Discard, Sync + Async = Total), so
       * only Read and Write are summed; cgroup v2 spells them read/write. */
      const char *op = json_string_value(json_object_get(e, "op"));
      if (op && strcasecmp(op, "read") != 0 && strcasecmp(op, "write") != 0)
        continue;
      io += dkr__json_int(json_object_get(e, "value"));
    }
  }
  if (cpu_ns)
    *cpu_ns = cpu;
  if (io_bytes)
    *io_bytes = io;
}

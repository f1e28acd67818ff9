/* A Docker Engine API client on libcurl over the unix socket ([docker] dd,
 * "unix:///var/run/docker.sock"; "tcp://host:port" and "http://..." work too).
 * Calls are blocking and thread safe (each call uses its own curl handle),
 * meant to run on libuv's thread pool. Engine errors come back as
 * ACTOR_EDOCKER with the engine's "message" in *err (malloc'd, may be NULL);
 * a missing object is ACTOR_ENOTFOUND; an unreachable engine ACTOR_ECONN. */
#ifndef ACTOR_DOCKER_H
#define ACTOR_DOCKER_H

#include "actor/errors.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "actor/config.h"

typedef struct dkr_s dkr_t;

/* Parses `dd`; ACTOR_EINVAL for an unknown scheme. "unix://var/run/x.sock"
 * (two slashes, as in Abaco's abaco.conf) is the absolute /var/run/x.sock,
 * as docker-py, which Abaco used, reads it. */
ACTOR_MUST_CHECK int dkr_new(const char *dd, dkr_t **out);
/* dkr_new of [docker] dd (default unix:///var/run/docker.sock), logging a
 * start-up error naming the key when it is not usable. */
ACTOR_MUST_CHECK int dkr_new_from_config(const actor_config_t *cfg, dkr_t **out);
/* The engine's socket path for a unix:// dd, else NULL (borrowed). */
const char *dkr_unix_path(const dkr_t *d);
void dkr_free(dkr_t *d);

/* Each `json_t **out` receives a new reference on success. */
ACTOR_MUST_CHECK int dkr_ping(dkr_t *d, char **err);
ACTOR_MUST_CHECK int dkr_image_inspect(dkr_t *d, const char *image, json_t **out, char **err);
ACTOR_MUST_CHECK int dkr_network_inspect(dkr_t *d, const char *network, json_t **out, char **err);
/* spec: the ContainerCreate body (Image, Env, HostConfig, ...). name may be NULL.
 * *id is malloc'd. A missing image is ACTOR_ENOTFOUND, a taken name
 * ACTOR_EEXIST. */
ACTOR_MUST_CHECK int dkr_container_create(dkr_t *d, const char *name, const json_t *spec, char **id,
                                          char **err);
ACTOR_MUST_CHECK int dkr_container_start(dkr_t *d, const char *id, char **err);
/* Blocks until the container stops (timeout_ms <= 0: no limit; then
 * ACTOR_ETIMEDOUT). *status_code gets the exit code. */
ACTOR_MUST_CHECK
int dkr_container_wait(dkr_t *d, const char *id, long timeout_ms, int64_t *status_code,
                       char **err);
/* stdout+stderr, demultiplexed from the engine's stream framing, in order.
 * *out is malloc'd and NUL-terminated, *len its length. At most max bytes
 * (0 = no limit) are kept; *truncated tells whether more existed. */
ACTOR_MUST_CHECK
int dkr_container_logs(dkr_t *d, const char *id, size_t max, char **out, size_t *len,
                       int *truncated, char **err);
ACTOR_MUST_CHECK int dkr_container_inspect(dkr_t *d, const char *id, json_t **out, char **err);
/* One-shot stats (stream=false). */
ACTOR_MUST_CHECK int dkr_container_stats(dkr_t *d, const char *id, json_t **out, char **err);
ACTOR_MUST_CHECK int dkr_container_kill(dkr_t *d, const char *id, const char *signal, char **err);
/* force + remove volumes. Not-found (and a removal already in progress)
 * counts as success. */
ACTOR_MUST_CHECK int dkr_container_remove(dkr_t *d, const char *id, char **err);
/* filters: JSON text for the `filters` query (e.g. {"label":["abaco.actor=x"]}),
 * NULL for none. *out is an array of container summaries. */
ACTOR_MUST_CHECK
int dkr_container_list(dkr_t *d, const char *filters, int all, json_t **out, char **err);
/* GET /containers/{id}/export: the container's filesystem as a tar stream,
 * written to fd as it comes (no time limit). ACTOR_EIO when fd refuses it. */
ACTOR_MUST_CHECK int dkr_container_export(dkr_t *d, const char *id, int fd, char **err);
/* POST /networks/create with body ({"Name": ..., ...}); a name in use is
 * ACTOR_EDOCKER (HTTP 409). */
ACTOR_MUST_CHECK int dkr_network_create(dkr_t *d, const json_t *body, char **err);

/* Parser, no I/O: demultiplexes the engine's log stream framing (8-byte
 * header: stream type, 3 zero bytes, big-endian length). Appends payloads
 * to out (capacity grows). Returns bytes consumed; an incomplete trailing
 * frame is left unconsumed. A stream that is not framed (tty) is passed
 * through when `raw` is set; a header that is not valid (type > 2 or
 * non-zero padding) sets `raw` and passes the rest through.
 * Start from a zeroed dkr_buf_t with `max` set (0 = no limit): at most max
 * bytes are kept, `truncated` is set when more came (later input is still
 * consumed and dropped), `nomem` when an allocation failed (data then holds
 * what fit). data, owned by the buffer, stays NUL-terminated once allocated. */
typedef struct {
  char *data;
  size_t len, cap, max;
  int truncated;
  int raw;
  int nomem;
} dkr_buf_t;
size_t dkr_demux(const unsigned char *in, size_t len, dkr_buf_t *out);
void dkr_buf_free(dkr_buf_t *b);

/* From a one-shot stats object: total cpu (ns), block io bytes; 0 if absent.
 * io is the sum of the Read and Write entries of
 * blkio_stats.io_service_bytes_recursive (cgroup v1 also lists Sync, Async,
 * Discard and Total, which would count the same bytes again); entries
 * without an op are counted. Either pointer may be NULL. */
void dkr_stats_totals(const json_t *stats, int64_t *cpu_ns, int64_t *io_bytes);

#endif

/* Spawner commands on command_channel_<queue>: what every requester of a
 * worker shares (the api for a message or the autoscaler, the spawner for
 * a replacement of a dead worker, health for an actor whose messages wait
 * without a worker):
 *   {actor_id (db_id), worker_id, image, revision, tenant, stop_existing}
 * The worker's REQUESTED record is written before the command exists, so
 * the spawner always finds what it is asked to start. Publishing is the
 * caller's (blocking client or loop connection); the spawner reads the
 * command with chan_command_parse. */
#ifndef CHANNELS_PROTO_COMMAND_H
#define CHANNELS_PROTO_COMMAND_H

#include "actor/errors.h"

#include <jansson.h>

#include "actor/ids.h"
#include "actor/store.h"
#include "channels/chan.h"

typedef struct {
  char worker_id[ACTOR_ID_MAX];
  char queue[CHAN_NAME_MAX]; /* the actor's command channel */
  char *body;                /* the command, JSON text (malloc'd) */
} chan_command_t;

/* Makes a new worker id for `actor` (its record, borrowed), stores the
 * worker's REQUESTED record and builds the command. 0, or the store's error
 * (then nothing is stored). Release with chan_command_done. */
ACTOR_MUST_CHECK
int chan_command_prepare(store_redis_t *r, const json_t *actor, chan_command_t *out);
/* Frees the body; when `published` is false also removes the REQUESTED
 * record again, so no worker waits for a spawner that was never told. */
void chan_command_done(store_redis_t *r, const json_t *actor, chan_command_t *cmd, int published);

/* What the spawner reads of a command: whose worker to start. */
#define CHAN_COMMAND_MAX (64 * 1024) /* most bytes in a command body */
typedef struct {
  char db_id[CHAN_NAME_MAX];    /* actor_id */
  char worker_id[ACTOR_ID_MAX]; /* worker_id */
} chan_command_req_t;

/* Reads a command body (longer ids are cut to fit). 0; ACTOR_EPARSE when it
 * is not one JSON object (ACTOR_ETOOBIG over CHAN_COMMAND_MAX bytes),
 * ACTOR_EINVAL when actor_id or worker_id is missing. */
ACTOR_MUST_CHECK int chan_command_parse(const void *body, size_t len, chan_command_req_t *out);

#endif

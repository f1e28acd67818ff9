/* Spawner commands on command_channel_<queue>: what every requester of a
 * worker shares (the api for a message or the autoscaler, the spawner for
 * a replacement of a dead worker, health for an actor whose messages wait
 * without a worker):
 *   {actor_id (db_id), worker_id, image, revision, tenant, stop_existing}
 * The worker's REQUESTED record is written before the command exists, so
 * the spawner always finds what it is asked to start. Publishing is the
 * caller's (blocking client or loop connection). */
#ifndef CHANNELS_PROTO_COMMAND_H
#define CHANNELS_PROTO_COMMAND_H

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
int chan_command_prepare(store_redis_t *r, const json_t *actor, chan_command_t *out);
/* Frees the body; when `published` is false also removes the REQUESTED
 * record again, so no worker waits for a spawner that was never told. */
void chan_command_done(store_redis_t *r, const json_t *actor, chan_command_t *cmd, int published);

#endif

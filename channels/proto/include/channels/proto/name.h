/* Our queue names: the one place they are written (chan_name_*) and read
 * back (chan_name_parse). docs/architecture.md "Channels" lists them:
 *
 *   command_channel_<queue>   a spawner queue's commands
 *   actor_msg_<db_id>         an actor's mailbox
 *   mailbox_upgrade_<db_id>   where a mailbox's messages wait while it is
 *                             re-made with new arguments (api mailbox.c)
 *   worker_<wid>              a worker's control queue
 *   spawner_worker_<wid>      the spawner's word to a starting worker
 *   results_<db_id>_<eid>     an execution's results (expires)
 *   clients, events           clientg's requests, platform events
 *
 * A db_id is <tenant>_<id> and a tenant may hold '_' and '-'; ids (actor,
 * worker and execution hashids) hold neither. So a results queue splits at
 * its LAST '_': the execution id after it, the db_id (which has a '_' of
 * its own) before it. */
#ifndef CHANNELS_PROTO_NAME_H
#define CHANNELS_PROTO_NAME_H

#include "channels/chan.h"

#define CHAN_CLIENTS "clients"
#define CHAN_EVENTS "events"

/* Write into out (size CHAN_NAME_MAX), truncating at CHAN_NAME_MAX - 1
 * (AMQP's 255-byte limit); a NULL argument counts as "". */
void chan_name_command(const char *queue, char *out);              /* command_channel_<queue> */
void chan_name_mailbox(const char *actor_dbid, char *out);         /* actor_msg_<db_id> */
void chan_name_mailbox_parking(const char *actor_dbid, char *out); /* mailbox_upgrade_<db_id> */
void chan_name_worker(const char *worker_id, char *out);           /* worker_<wid> */
void chan_name_spawner_worker(const char *worker_id, char *out);   /* spawner_worker_<wid> */
/* results_<db_id>_<eid> */
void chan_name_results(const char *actor_dbid, const char *eid, char *out);

typedef enum {
  CHAN_Q_OTHER,           /* not one of ours (or malformed) */
  CHAN_Q_COMMAND,         /* id: the spawner queue */
  CHAN_Q_MAILBOX,         /* id: the actor's db_id */
  CHAN_Q_MAILBOX_PARKING, /* id: the actor's db_id */
  CHAN_Q_WORKER,          /* id: the worker id */
  CHAN_Q_SPAWNER_WORKER,  /* id: the worker id */
  CHAN_Q_RESULTS,         /* id: the actor's db_id, eid: the execution id */
  CHAN_Q_CLIENTS,
  CHAN_Q_EVENTS
} chan_qkind_t;

typedef struct {
  chan_qkind_t kind;
  char id[CHAN_NAME_MAX];  /* whose queue it is; "" when no one's */
  char eid[CHAN_NAME_MAX]; /* results queues only; else "" */
} chan_qname_t;

/* Reads a queue name back (the inverse of chan_name_*). Returns out->kind:
 * CHAN_Q_OTHER for NULL, a name that is not ours, one with nothing after
 * its prefix, or a results queue without both a db_id (itself holding a
 * '_') and an execution id. */
chan_qkind_t chan_name_parse(const char *name, chan_qname_t *out);

#endif

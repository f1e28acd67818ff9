/* Queue names (channels/proto/name.h): one table of prefixes, used both to
 * write names and to read them back, so the two cannot drift apart. */
#include <stdio.h>
#include <string.h>

#include "channels/proto/name.h"

static const struct {
  chan_qkind_t kind;
  const char *prefix;
} PREFIXES[] = {
    {CHAN_Q_COMMAND, "command_channel_"},
    {CHAN_Q_MAILBOX, "actor_msg_"},
    {CHAN_Q_MAILBOX_PARKING, "mailbox_upgrade_"},
    {CHAN_Q_WORKER, "worker_"},
    {CHAN_Q_SPAWNER_WORKER, "spawner_worker_"},
    {CHAN_Q_RESULTS, "results_"},
};
#define NPREFIXES (sizeof(PREFIXES) / sizeof(PREFIXES[0]))

static const char *prefix_of(chan_qkind_t kind) {
  for (size_t i = 0; i < NPREFIXES; i++)
    if (PREFIXES[i].kind == kind)
      return PREFIXES[i].prefix;
  return "";
}

/* <prefix><id>, or <prefix><id>_<eid> when eid is not NULL. */
static void format(chan_qkind_t kind, const char *id, const char *eid, char *out) {
  snprintf(out, CHAN_NAME_MAX, "%s%s%s%s", prefix_of(kind), id ? id : "", eid ? "_" : "",
           eid ? eid : "");
}

void chan_name_command(const char *queue, char *out) {
  format(CHAN_Q_COMMAND, queue, NULL, out);
}

void chan_name_mailbox(const char *actor_dbid, char *out) {
  format(CHAN_Q_MAILBOX, actor_dbid, NULL, out);
}

void chan_name_mailbox_parking(const char *actor_dbid, char *out) {
  format(CHAN_Q_MAILBOX_PARKING, actor_dbid, NULL, out);
}

void chan_name_worker(const char *worker_id, char *out) {
  format(CHAN_Q_WORKER, worker_id, NULL, out);
}

void chan_name_spawner_worker(const char *worker_id, char *out) {
  format(CHAN_Q_SPAWNER_WORKER, worker_id, NULL, out);
}

void chan_name_results(const char *actor_dbid, const char *eid, char *out) {
  format(CHAN_Q_RESULTS, actor_dbid, eid ? eid : "", out);
}

/* results_<db_id>_<eid>: cut `rest` at its last '_' into out->id and
 * out->eid; the db_id before it must hold a '_' of its own. */
static int split_results(const char *rest, chan_qname_t *out) {
  const char *cut = strrchr(rest, '_');
  if (cut == NULL || cut == rest || cut[1] == '\0')
    return -1;
  if (memchr(rest, '_', (size_t)(cut - rest)) == NULL)
    return -1;
  snprintf(out->id, sizeof(out->id), "%.*s", (int)(cut - rest), rest);
  snprintf(out->eid, sizeof(out->eid), "%s", cut + 1);
  return 0;
}

chan_qkind_t chan_name_parse(const char *name, chan_qname_t *out) {
  memset(out, 0, sizeof(*out));
  out->kind = CHAN_Q_OTHER;
  if (name == NULL || strlen(name) >= CHAN_NAME_MAX)
    return out->kind;
  if (strcmp(name, CHAN_CLIENTS) == 0)
    return out->kind = CHAN_Q_CLIENTS;
  if (strcmp(name, CHAN_EVENTS) == 0)
    return out->kind = CHAN_Q_EVENTS;
  for (size_t i = 0; i < NPREFIXES; i++) {
    size_t plen = strlen(PREFIXES[i].prefix);
    if (strncmp(name, PREFIXES[i].prefix, plen) != 0)
      continue;
    const char *rest = name + plen;
    if (*rest == '\0')
      return out->kind;
    if (PREFIXES[i].kind == CHAN_Q_RESULTS) {
      if (split_results(rest, out) != 0)
        return out->kind;
    } else {
      snprintf(out->id, sizeof(out->id), "%s", rest);
    }
    return out->kind = PREFIXES[i].kind;
  }
  return out->kind;
}

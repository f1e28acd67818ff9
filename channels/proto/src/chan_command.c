/* Spawner commands and the worker records behind them
 * (channels/proto/command.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "channels/proto/command.h"
#include "channels/proto/name.h"

int chan_command_prepare(store_redis_t *r, const json_t *actor, chan_command_t *out) {
  memset(out, 0, sizeof(*out));
  const char *db_id = actor_json_str(actor, "db_id", "");
  const char *image = actor_json_str(actor, "image", "");
  const char *tenant = actor_json_str(actor, "tenant", "");
  json_int_t revision = actor_json_int(actor, "revision", 1);
  chan_name_command(actor_json_str(actor, "queue", "default"), out->queue);
  int rc = actor_id_new(out->worker_id);
  if (rc != 0)
    return rc;
  char control[CHAN_NAME_MAX];
  chan_name_worker(out->worker_id, control);
  json_t *w = model_worker_new(db_id, out->worker_id, control, image, tenant, revision);
  if (w == NULL)
    return ACTOR_ENOMEM;
  rc = model_worker_put(r, db_id, out->worker_id, w);
  json_decref(w);
  if (rc != 0)
    return rc;
  json_t *cmd =
      json_pack("{s:s, s:s, s:s, s:I, s:s, s:b}", "actor_id", db_id, "worker_id", out->worker_id,
                "image", image, "revision", revision, "tenant", tenant, "stop_existing", 0);
  out->body = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
  json_decref(cmd);
  if (out->body == NULL) {
    /* Best effort: a REQUESTED record left behind is removed by the health
     * agent after spawn_timeout. */
    ACTOR_IGNORE(model_worker_delete(r, db_id, out->worker_id));
    return ACTOR_ENOMEM;
  }
  return 0;
}

void chan_command_done(store_redis_t *r, const json_t *actor, chan_command_t *cmd, int published) {
  if (!published && cmd->worker_id[0]) {
    const char *db_id = actor_json_str(actor, "db_id", "");
    int rc = model_worker_delete(r, db_id, cmd->worker_id);
    if (rc != 0 && rc != ACTOR_ENOTFOUND)
      LOG_WARN("channels", "worker %s of actor %s: cannot remove its record: %s", cmd->worker_id,
               db_id, actor_strerror(rc));
  }
  free(cmd->body);
  cmd->body = NULL;
}

int chan_command_parse(const void *body, size_t len, chan_command_req_t *out) {
  memset(out, 0, sizeof(*out));
  json_t *cmd = NULL;
  int rc = chan_json_decode(body, len, CHAN_COMMAND_MAX, &cmd);
  if (rc == 0 && !json_is_object(cmd))
    rc = ACTOR_EPARSE;
  const char *db_id = rc == 0 ? actor_json_str(cmd, "actor_id", NULL) : NULL;
  const char *wid = rc == 0 ? actor_json_str(cmd, "worker_id", NULL) : NULL;
  if (rc == 0 && (db_id == NULL || wid == NULL))
    rc = ACTOR_EINVAL;
  if (rc == 0) {
    snprintf(out->db_id, sizeof(out->db_id), "%s", db_id);
    snprintf(out->worker_id, sizeof(out->worker_id), "%s", wid);
  }
  json_decref(cmd);
  return rc;
}

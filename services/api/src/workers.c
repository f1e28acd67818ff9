/* Asking the spawner for workers: each new worker gets a REQUESTED record
 * first, then a command on its queue's command channel. If the command
 * cannot be published the record is removed again, so no worker is left
 * waiting for a spawner that was never told. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/log.h"
#include "actor/model.h"
#include "api.h"

int api_request_workers(api_req_t *r, const json_t *actor, int n) {
  api_ctx_t *c = r->ctx;
  const char *db_id = json_string_value(json_object_get(actor, "db_id"));
  const char *image = json_string_value(json_object_get(actor, "image"));
  const char *tenant = json_string_value(json_object_get(actor, "tenant"));
  const char *queue = json_string_value(json_object_get(actor, "queue"));
  json_int_t revision = json_integer_value(json_object_get(actor, "revision"));
  char cmdq[CHAN_NAME_MAX];
  chan_name_command(queue ? queue : "default", cmdq);

  for (int i = 0; i < n; i++) {
    char wid[ACTOR_ID_MAX];
    int rc = actor_id_new(wid);
    if (rc != 0)
      return rc;
    json_t *w = model_worker_new(db_id, wid, image, tenant, revision);
    if (w == NULL)
      return ACTOR_ENOMEM;
    rc = model_worker_put(c->redis, db_id, wid, w);
    json_decref(w);
    if (rc != 0)
      return rc;
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:I, s:s, s:b}", "actor_id", db_id, "worker_id",
                            wid, "image", image, "revision", revision, "tenant", tenant,
                            "stop_existing", 0);
    char *text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
    json_decref(cmd);
    rc = text ? chan_client_publish(c->chan, cmdq, text, strlen(text), NULL, 5000)
              : ACTOR_ENOMEM;
    free(text);
    if (rc != 0) {
      model_worker_delete(c->redis, db_id, wid);
      return rc;
    }
    LOG_INFO("api", "actor %s: requested worker %s", db_id, wid);
  }
  return 0;
}

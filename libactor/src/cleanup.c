/* Removing what a dead worker leaves behind: its containers and the
 * results socket and FIFO of their executions (see actor/cleanup.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/cleanup.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"

static void remove_file(const actor_cleanup_t *c, const char *dir, const char *eid,
                        const char *suffix, const char *what) {
  char path[PATH_MAX + 80];
  if (dir == NULL || dir[0] == '\0')
    return;
  int n = snprintf(path, sizeof(path), "%s/%s%s", dir, eid, suffix);
  if (n > 0 && (size_t)n < sizeof(path) && unlink(path) == 0)
    LOG_INFO(c->module, "execution %s: removed its %s", eid, what);
}

void actor_cleanup_exec_files(const actor_cleanup_t *c, const char *eid) {
  if (strchr(eid, '/') || eid[0] == '.' || eid[0] == '\0')
    return;
  remove_file(c, c->socket_dir, eid, ".sock", "results socket");
  remove_file(c, c->fifo_dir, eid, "", "binary FIFO");
}

int actor_cleanup_containers(dkr_t *docker, const actor_cleanup_t *c, const char *wid,
                             json_t *eids) {
  const char *retry = c->retry ? c->retry : "";
  json_t *f = json_pack("{s:[s+]}", "label", "abaco.worker=", wid);
  char *filters = f ? json_dumps(f, JSON_COMPACT) : NULL;
  json_decref(f);
  if (filters == NULL)
    return ACTOR_ENOMEM;
  json_t *list = NULL;
  char *err = NULL;
  int rc = dkr_container_list(docker, filters, 1, &list, &err);
  free(filters);
  if (rc != 0) {
    LOG_WARN(c->module, "worker %s: cannot list its containers (%s)%s", wid,
             err ? err : actor_strerror(rc), retry);
    free(err);
    return rc;
  }
  size_t i;
  json_t *ct;
  json_array_foreach(list, i, ct) {
    const json_t *labels = json_object_get(ct, "Labels");
    const char *cid = actor_json_str(ct, "Id", NULL);
    const char *host = actor_json_str(labels, "abaco.host", NULL);
    const char *eid = actor_json_str(labels, "abaco.execution", NULL);
    if (cid == NULL || (c->host_id && host && strcmp(host, c->host_id) != 0))
      continue;
    char *rerr = NULL;
    int rrc = dkr_container_remove(docker, cid, &rerr);
    if (rrc == 0) {
      LOG_INFO(c->module, "worker %s: removed its container %.12s", wid, cid);
    } else {
      LOG_WARN(c->module, "worker %s: cannot remove its container %.12s (%s)%s", wid, cid,
               rerr ? rerr : actor_strerror(rrc), retry);
      rc = rrc;
    }
    free(rerr);
    if (eid && eids)
      json_array_append_new(eids, json_string(eid));
  }
  json_decref(list);
  return rc;
}

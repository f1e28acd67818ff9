/* Building an actor container's environment (see execenv.h). Later
 * entries win over earlier ones with the same name, so a message parameter
 * can override a default, and nothing can override an _abaco_ variable. */
#include "actor/execenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"

/* Ordered name -> value map kept as a JSON object (insertion order kept). */
static int put(json_t *vars, const char *name, const char *value) {
  if (name == NULL || *name == '\0' || strchr(name, '=') != NULL)
    return 0; /* not a valid variable name: skipped */
  json_object_del(vars, name);
  return json_object_set_new(vars, name, json_string(value ? value : "")) == 0
             ? 0
             : ACTOR_ENOMEM;
}

/* Non-string values are rendered like Python's str(). */
static int put_value(json_t *vars, const char *name, const json_t *v) {
  if (json_is_string(v))
    return put(vars, name, json_string_value(v));
  char *text = actor_pyrepr(v);
  if (text == NULL)
    return ACTOR_ENOMEM;
  int rc = put(vars, name, text);
  free(text);
  return rc;
}

int actor_execenv_build(const actor_execenv_in_t *in, json_t **out) {
  json_t *vars = json_object();
  if (vars == NULL)
    return ACTOR_ENOMEM;
  int rc = 0;
  const char *k;
  json_t *v;

  json_object_foreach((json_t *)json_object_get(in->actor, "default_environment"), k, v) {
    if (rc == 0)
      rc = put_value(vars, k, v);
  }
  json_object_foreach((json_t *)in->meta, k, v) {
    if (rc == 0 && strncmp(k, "_abaco_", 7) != 0 && strcmp(k, "message") != 0)
      rc = put_value(vars, k, v);
  }
  if (rc == 0 && in->message)
    rc = put_value(vars, "MSG", in->message);

  const char *api_server = actor_json_str(in->meta, "_abaco_api_server", "");
  const char *jwt_header = "X-Jwt-Assertion-";
  char jwt_name[256];
  snprintf(jwt_name, sizeof(jwt_name), "%s%s", jwt_header,
           actor_json_str(in->actor, "tenant", ""));
  char state_text[16] = "{}";
  char *state = NULL;
  json_t *st = json_object_get(in->actor, "state");
  if (st && !json_is_null(st))
    state = json_dumps(st, JSON_COMPACT | JSON_ENCODE_ANY);
  struct {
    const char *name, *value;
  } abaco[] = {
      {"_abaco_execution_id", actor_json_str(in->meta, "_abaco_execution_id", "")},
      {"_abaco_actor_id", actor_json_str(in->actor, "id", "")},
      {"_abaco_actor_dbid", actor_json_str(in->actor, "db_id", "")},
      {"_abaco_worker_id", in->worker_id},
      {"_abaco_container_repo", actor_json_str(in->actor, "image", "")},
      {"_abaco_actor_name", actor_json_str(in->actor, "name", "")},
      {"_abaco_actor_state", state ? state : state_text},
      {"_abaco_username", actor_json_str(in->meta, "_abaco_username", "")},
      {"_abaco_api_server", api_server},
      {"_abaco_Content_Type", actor_json_str(in->meta, "_abaco_Content_Type", "str")},
      {"_abaco_jwt_header_name", jwt_name},
  };
  for (size_t i = 0; rc == 0 && i < sizeof(abaco) / sizeof(abaco[0]); i++)
    rc = put(vars, abaco[i].name, abaco[i].value);
  free(state);
  if (rc == 0 && in->access_token)
    rc = put(vars, "_abaco_access_token", in->access_token);
  if (rc == 0)
    rc = put(vars, "_actor_configs", in->configs ? in->configs : "{}");

  json_t *env = rc == 0 ? json_array() : NULL;
  json_object_foreach(vars, k, v) {
    if (env == NULL)
      break;
    size_t n = strlen(k) + strlen(json_string_value(v)) + 2;
    char *kv = malloc(n);
    if (kv == NULL) {
      json_decref(env);
      env = NULL;
      break;
    }
    snprintf(kv, n, "%s=%s", k, json_string_value(v));
    json_array_append_new(env, json_string(kv));
    free(kv);
  }
  json_decref(vars);
  if (env == NULL)
    return rc ? rc : ACTOR_ENOMEM;
  *out = env;
  return 0;
}

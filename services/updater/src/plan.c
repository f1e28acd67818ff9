/* The reconciler's decision (updater.h): from one listing of the tag's
 * instances, the tag's records, the time and the settings, the steps that
 * make the records true to the cloud. No I/O, so every rule is unit-tested.
 *
 * Design note. Two maps are built first (jansson objects are hash tables):
 * ec2 instance id -> record, and "<TENANT>:<id>" -> record. A listed
 * instance is matched by the first, else by its AbacoId/Tenant tags in the
 * second, else adopted; matched records are remembered, and the records
 * left over are the ones the listing lacks. Only fields that differ go
 * into a step (`observed` is stamped only alongside another change), so a
 * quiet pass over 10,000 instances writes nothing.
 *
 * A terminated instance stays in EC2's listing for about an hour: its
 * record counts as gone from the first pass that sees it terminated
 * (gone_since), and goes after gone_grace, as an unlisted one does.
 *
 * The stale guard: a user action (user_transition younger than
 * stale_guard) whose goal (desired_state) differs from what the cloud
 * shows keeps the record's state, because the observation may predate the
 * action; the goal itself and `terminated` always get through. Without the
 * guard the record follows the cloud, and so does desired_state (a change
 * made in the console is the truth). */
#include <stdio.h>
#include <string.h>

#include "actor/auth.h"
#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/timefmt.h"
#include "updater.h"

static const char *str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static bool streq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* A time field in ms, or -1 when absent or unreadable. */
static int64_t time_of(const json_t *o, const char *key) {
  const char *s = str(o, key);
  int64_t ms;
  if (s == NULL || actor_time_parse(s, &ms) != 0)
    return -1;
  return ms;
}

const char *upd_goal_of(const char *s) {
  if (s == NULL)
    return NULL;
  if (strcmp(s, "pending") == 0)
    return "running";
  if (strcmp(s, "stopping") == 0)
    return "stopped";
  if (strcmp(s, "shutting-down") == 0)
    return "terminated";
  return s;
}

static bool gone_state(const char *s) {
  return streq(s, "terminated") || streq(s, "shutting-down");
}

/* Sets fields[key] = v (a new reference, consumed) when rec[key] differs. */
static int set_if_diff(json_t *fields, const json_t *rec, const char *key, json_t *v) {
  if (v == NULL)
    return ACTOR_ENOMEM;
  json_t *old = json_object_get(rec, key);
  if (old == NULL ? json_is_null(v) : json_equal(old, v)) {
    json_decref(v);
    return 0;
  }
  return json_object_set_new(fields, key, v) == 0 ? 0 : ACTOR_ENOMEM;
}

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *copy_or_null(const json_t *v) {
  return v ? json_deep_copy(v) : json_null();
}

static json_t *now_string(int64_t now_ms) {
  char t[ACTOR_TIME_MAX];
  actor_time_format(now_ms, t);
  return json_string(t);
}

/* The tenant an instance's tags name, upper-cased, or the default. */
static void tenant_of(const json_t *tags, const char *def, char *out, size_t n) {
  const char *t = str(tags, "Tenant");
  if (t == NULL || actor_tenant_norm(t, out, n) != 0)
    snprintf(out, n, "%s", def);
}

/* A step skeleton for a record (new reference). */
static json_t *step_new(const char *op, const json_t *rec) {
  json_t *s = json_pack("{s:s}", "op", op);
  if (s == NULL)
    return NULL;
  json_object_set_new(s, "tenant", str_or_null(str(rec, "tenant")));
  json_object_set_new(s, "id", str_or_null(str(rec, "id")));
  json_object_set_new(s, "ec2_instance_id", str_or_null(str(rec, "ec2_instance_id")));
  json_object_set(s, "record", (json_t *)rec);
  return s;
}

/* A step for a record whose back-off is not over, or NULL. */
static json_t *backoff_step(const json_t *rec, int64_t now_ms) {
  int64_t next = time_of(rec, "next_run");
  if (next < 0 || next <= now_ms)
    return NULL;
  json_t *s = step_new(UPD_OP_SKIP, rec);
  if (s)
    json_object_set_new(s, "next_run", json_string(str(rec, "next_run")));
  return s;
}

/* Adds the event of from -> to to the step, and from_state. */
static void step_event(json_t *s, const char *from, const char *to) {
  const char *ev = upd_event_for(from, to);
  json_object_set_new(s, "from_state", str_or_null(from));
  if (ev)
    json_object_set_new(s, "event", json_string(ev));
}

/* The refresh of a matched record from its instance, or NULL (*err set
 * when out of memory) when nothing changed. */
static json_t *plan_refresh(const json_t *rec, const json_t *inst, const upd_plan_opts_t *o,
                            int *err) {
  json_t *f = json_object();
  if (f == NULL)
    goto nomem;
  const char *obs = str(inst, "state");
  const char *cur = str(rec, "state");
  const char *desired = str(rec, "desired_state");
  static const char *const observed[] = {"private_ip", "public_ip", "launch_time",
                                         "instance_type", "availability_zone"};
  int rc = set_if_diff(f, rec, "observed_state", str_or_null(obs));
  for (size_t i = 0; rc == 0 && i < sizeof(observed) / sizeof(*observed); i++) {
    json_t *v = json_object_get(inst, observed[i]);
    rc = set_if_diff(f, rec, observed[i], v ? json_deep_copy(v) : json_null());
  }
  if (rc == 0)
    rc = set_if_diff(f, rec, "ec2_instance_id", str_or_null(str(inst, "instance_id")));
  /* EC2 lists a terminated instance for a while (about an hour): its
   * record is gone from the first such observation, as if unlisted */
  if (rc == 0 && streq(obs, "terminated")) {
    if (json_is_null(json_object_get(rec, "gone_since")) || !json_object_get(rec, "gone_since"))
      rc = set_if_diff(f, rec, "gone_since", now_string(o->now_ms));
  } else if (rc == 0) {
    rc = set_if_diff(f, rec, "gone_since", json_null());
  }
  if (rc != 0)
    goto nomem;

  int64_t ut = time_of(rec, "user_transition");
  bool young = ut >= 0 && o->now_ms - ut < o->stale_guard_ms;
  bool guarded = young && desired && obs && !streq(desired, obs) && !streq(obs, "terminated");
  const char *state = cur;
  if (!guarded && obs) {
    state = obs;
    const char *goal = upd_goal_of(obs);
    if (!streq(goal, desired) && set_if_diff(f, rec, "desired_state", json_string(goal)) != 0)
      goto nomem;
  }
  if (state && !streq(state, cur) && set_if_diff(f, rec, "state", json_string(state)) != 0)
    goto nomem;

  if (json_object_size(f) > 0 || json_object_get(rec, "backoff_ms") ||
      json_object_get(rec, "next_run")) {
    /* a step that succeeds ends the record's back-off */
    if (set_if_diff(f, rec, "backoff_ms", json_null()) != 0 ||
        set_if_diff(f, rec, "next_run", json_null()) != 0)
      goto nomem;
  }
  if (json_object_size(f) == 0) {
    json_decref(f);
    return NULL;
  }
  if (json_object_set_new(f, "observed", now_string(o->now_ms)) != 0)
    goto nomem;
  json_t *s = step_new(UPD_OP_REFRESH, rec);
  if (s == NULL)
    goto nomem;
  json_object_set_new(s, "fields", f);
  if (json_object_get(f, "state"))
    step_event(s, cur, state);
  return s;

nomem:
  json_decref(f);
  *err = ACTOR_ENOMEM;
  return NULL;
}

/* A new record for a tagged instance nobody launched (a step, new
 * reference; NULL when out of memory). */
static json_t *plan_adopt(const json_t *inst, const upd_plan_opts_t *o) {
  const json_t *tags = json_object_get(inst, "tags");
  char tenant[ACTOR_AUTH_TENANT_MAX + 1];
  tenant_of(tags, o->default_tenant, tenant, sizeof(tenant));
  char id[ACTOR_ID_MAX];
  if (actor_id_new(id) != 0)
    return NULL;
  const char *obs = str(inst, "state");
  static const char *const nulls[] = {
      "group",   "stack_name",      "stack_id", "stack_status", "progress",   "progress_token",
      "error",   "enacted",         "user_transition", "next_run", "backoff_ms", "gone_since"};
  static const char *const observed[] = {"instance_type", "private_ip", "public_ip",
                                         "launch_time", "availability_zone"};
  json_t *rec = json_object();
  int bad = rec == NULL;
  for (size_t i = 0; !bad && i < sizeof(nulls) / sizeof(*nulls); i++)
    bad |= json_object_set_new(rec, nulls[i], json_null());
  for (size_t i = 0; !bad && i < sizeof(observed) / sizeof(*observed); i++)
    bad |= json_object_set_new(rec, observed[i], copy_or_null(json_object_get(inst, observed[i])));
  struct {
    const char *key;
    json_t *v;
  } set[] = {
      {"id", json_string(id)},
      {"tenant", json_string(tenant)},
      {"tag", json_string(o->tag)},
      {"owner", str_or_null(str(tags, "Owner"))},
      {"name", str_or_null(str(tags, "Name"))},
      {"config", str_or_null(str(tags, "Config"))},
      {"state", str_or_null(obs)},
      {"desired_state", str_or_null(upd_goal_of(obs))},
      {"observed_state", str_or_null(obs)},
      {"observed", now_string(o->now_ms)},
      {"created", now_string(o->now_ms)},
      {"updated", now_string(o->now_ms)},
      {"ec2_instance_id", str_or_null(str(inst, "instance_id"))},
      {"volume_id", copy_or_null(json_array_get(json_object_get(inst, "volumes"), 0))},
      {"backend_status", json_array()},
      {"deleting", json_false()},
      {"adopted", json_true()},
  };
  for (size_t i = 0; i < sizeof(set) / sizeof(*set); i++) {
    if (bad || set[i].v == NULL) {
      json_decref(set[i].v); /* every value is consumed, also after a failure */
      bad = 1;
    } else {
      bad = json_object_set_new(rec, set[i].key, set[i].v) != 0;
    }
  }
  json_t *s = bad ? NULL : step_new(UPD_OP_ADOPT, rec);
  json_decref(rec);
  return s;
}

/* The step for a record of the tag the listing lacks, or NULL. */
static json_t *plan_unlisted(const json_t *rec, const upd_plan_opts_t *o, int *err) {
  const char *state = str(rec, "state");
  bool deleting = json_is_true(json_object_get(rec, "deleting"));
  json_t *s = NULL;
  if (deleting && (streq(state, "terminated") || streq(state, "failed")))
    return (s = step_new(UPD_OP_REMOVE, rec)) ? s : (*err = ACTOR_ENOMEM, NULL);
  if (str(rec, "ec2_instance_id") == NULL) {
    /* no instance yet: only a launch whose launcher went silent is ours */
    const char *stack = str(rec, "stack_id");
    if (!streq(state, "launching") || stack == NULL)
      return NULL;
    int64_t life = -1;
    static const char *const marks[] = {"enacted", "updated", "observed", "user_transition",
                                        "created"};
    for (size_t i = 0; i < sizeof(marks) / sizeof(*marks); i++) {
      int64_t t = time_of(rec, marks[i]);
      if (t > life)
        life = t;
    }
    if (life >= 0 && o->now_ms - life <= UPD_LAUNCHER_SILENCE_MS)
      return NULL;
    if ((s = step_new(UPD_OP_POLL_STACK, rec)) == NULL) {
      *err = ACTOR_ENOMEM;
      return NULL;
    }
    json_object_set_new(s, "stack", json_string(stack));
    return s;
  }
  if (streq(state, "launching"))
    return NULL; /* the launcher's; EC2's listing may lag a fresh instance */
  int64_t gone = time_of(rec, "gone_since");
  if (gone >= 0) {
    if (o->now_ms - gone > o->gone_grace_ms)
      return (s = step_new(UPD_OP_REMOVE, rec)) ? s : (*err = ACTOR_ENOMEM, NULL);
    return NULL;
  }
  json_t *now = now_string(o->now_ms);
  json_t *f = json_pack("{s:O, s:s, s:s, s:s, s:O, s:n, s:n}", "gone_since", now, "state",
                        "terminated", "observed_state", "terminated", "desired_state",
                        "terminated", "observed", now, "backoff_ms", "next_run");
  json_decref(now);
  if (f == NULL || (s = step_new(UPD_OP_MARK_GONE, rec)) == NULL) {
    json_decref(f);
    *err = ACTOR_ENOMEM;
    return NULL;
  }
  json_object_set_new(s, "fields", f);
  step_event(s, state, "terminated");
  return s;
}

static int record_key(const json_t *rec, char *buf, size_t n) {
  const char *t = str(rec, "tenant"), *id = str(rec, "id");
  if (t == NULL || id == NULL)
    return ACTOR_EINVAL;
  int k = snprintf(buf, n, "%s:%s", t, id);
  return k > 0 && (size_t)k < n ? 0 : ACTOR_ETOOBIG;
}

static int push(json_t *arr, json_t *s, int *err) {
  if (s == NULL)
    return *err;
  if (json_array_append_new(arr, s) != 0)
    return *err = ACTOR_ENOMEM;
  return 0;
}

int upd_plan(const json_t *listing, const json_t *records, const upd_plan_opts_t *o,
             json_t **steps) {
  *steps = NULL;
  json_t *out = json_array(), *stacks = json_array(), *gone = json_array();
  json_t *by_ec2 = json_object(), *by_key = json_object(), *seen = json_object();
  int err = 0;
  if (!out || !stacks || !gone || !by_ec2 || !by_key || !seen) {
    err = ACTOR_ENOMEM;
    goto cleanup;
  }
  if (listing == NULL || !json_is_array(listing))
    goto done; /* a failed listing changes nothing */

  size_t i;
  json_t *rec, *inst;
  char key[256];
  json_array_foreach(records, i, rec) {
    const char *ec2 = str(rec, "ec2_instance_id");
    if (ec2 && json_object_set(by_ec2, ec2, rec) != 0)
      err = ACTOR_ENOMEM;
    if (record_key(rec, key, sizeof(key)) == 0 && json_object_set(by_key, key, rec) != 0)
      err = ACTOR_ENOMEM;
  }
  if (err)
    goto cleanup;

  json_array_foreach(listing, i, inst) {
    const char *iid = str(inst, "instance_id");
    if (iid == NULL)
      continue;
    rec = json_object_get(by_ec2, iid);
    const json_t *tags = json_object_get(inst, "tags");
    const char *abaco_id = str(tags, "AbacoId");
    if (rec == NULL && abaco_id) {
      char tenant[ACTOR_AUTH_TENANT_MAX + 1];
      tenant_of(tags, o->default_tenant, tenant, sizeof(tenant));
      if (snprintf(key, sizeof(key), "%s:%s", tenant, abaco_id) < (int)sizeof(key))
        rec = json_object_get(by_key, key);
    }
    if (rec == NULL) {
      /* a terminated instance stays listed for a while: never adopt it */
      if (!gone_state(str(inst, "state"))) {
        json_t *s = plan_adopt(inst, o);
        if (s == NULL || json_array_append_new(out, s) != 0) {
          err = ACTOR_ENOMEM;
          goto cleanup;
        }
      }
      continue;
    }
    if (record_key(rec, key, sizeof(key)) == 0 && json_object_set_new(seen, key, json_true()))
      err = ACTOR_ENOMEM;
    json_t *s = backoff_step(rec, o->now_ms);
    bool term = streq(str(inst, "state"), "terminated");
    int64_t gone_ms = time_of(rec, "gone_since");
    if (s == NULL && term &&
        (json_is_true(json_object_get(rec, "deleting")) ||
         (gone_ms >= 0 && o->now_ms - gone_ms > o->gone_grace_ms)))
      s = step_new(UPD_OP_REMOVE, rec);
    else if (s == NULL)
      s = plan_refresh(rec, inst, o, &err);
    if (err || (s && push(out, s, &err) != 0))
      goto cleanup;
  }

  json_array_foreach(records, i, rec) {
    if (record_key(rec, key, sizeof(key)) != 0 || json_object_get(seen, key))
      continue;
    json_t *s = backoff_step(rec, o->now_ms);
    if (s == NULL)
      s = plan_unlisted(rec, o, &err);
    if (err)
      goto cleanup;
    if (s && push(streq(str(s, "op"), UPD_OP_POLL_STACK) ? stacks : gone, s, &err) != 0)
      goto cleanup;
  }

done:
  /* stack before instance: the polls go first */
  if (json_array_extend(stacks, out) != 0 || json_array_extend(stacks, gone) != 0) {
    err = ACTOR_ENOMEM;
    goto cleanup;
  }
  *steps = json_incref(stacks);

cleanup:
  json_decref(out);
  json_decref(stacks);
  json_decref(gone);
  json_decref(by_ec2);
  json_decref(by_key);
  json_decref(seen);
  return err;
}

void upd_plan_count(const json_t *steps, upd_counts_t *c) {
  memset(c, 0, sizeof(*c));
  size_t i;
  json_t *s;
  json_array_foreach(steps, i, s) {
    const char *op = str(s, "op");
    if (streq(op, UPD_OP_ADOPT))
      c->adopt++;
    else if (streq(op, UPD_OP_REFRESH))
      c->refresh++;
    else if (streq(op, UPD_OP_MARK_GONE))
      c->mark_gone++;
    else if (streq(op, UPD_OP_REMOVE))
      c->remove++;
    else if (streq(op, UPD_OP_POLL_STACK))
      c->poll_stack++;
    else if (streq(op, UPD_OP_SKIP))
      c->skip++;
  }
}

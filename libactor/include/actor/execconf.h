/* The settings that shape each execution's container: [workers]
 * max_run_time, mem_limit, max_cpus, actor_uid, actor_gid,
 * generate_clients and [web] log_ex, some of which Abaco lets a tenant
 * override (`<tenant>_log_ex`, `<tenant>_actor_uid`, ...). The spawner
 * checks them all, for every tenant named in the file, when it starts, so
 * a bad value stops it before any worker runs; each worker then reads its
 * actor's tenant's values, which cannot fail any more. */
#ifndef ACTOR_EXECCONF_H
#define ACTOR_EXECCONF_H

#include <stdbool.h>

#include "actor/config.h"

typedef struct {
  long max_run_time;     /* seconds; 0: no limit (-1 in Abaco's file) */
  long long mem_bytes;   /* 0: no limit */
  long max_cpus;         /* nano-CPUs; 0: no limit */
  long log_ex;           /* seconds an execution's logs are kept; 0: forever */
  const char *uid, *gid; /* the container's user and group, "" when unset (borrowed) */
  bool generate_clients; /* access tokens for actors registered with token = true */
} actor_execconf_t;

/* The values for tenant (NULL or "": the global ones). ACTOR_ECONFIG for a
 * bad value, logged naming its key. */
int actor_execconf_read(const actor_config_t *cfg, const char *tenant, actor_execconf_t *out);
/* Reads the global values and those of every tenant that has a key of its
 * own; 0 or ACTOR_ECONFIG (each bad key logged). *any_clients (may be
 * NULL) tells whether generate_clients is on globally or for some tenant. */
int actor_execconf_check(const actor_config_t *cfg, bool *any_clients);

#endif

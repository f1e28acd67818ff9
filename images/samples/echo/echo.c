/* Sample actor "echo": prints `Contents of MSG: $MSG`, then its whole
 * environment sorted, one VAR=value per line, so tests can check both the
 * message and every variable the worker passed (docs/api.md "What a container sees"). Built static
 * for a FROM scratch image by scripts/samples.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  const char *msg = getenv("MSG");
  size_t n = 0;
  while (environ[n])
    n++;
  char **vars = malloc((n + 1) * sizeof *vars);
  if (!vars) {
    fprintf(stderr, "echo: out of memory\n");
    return 1;
  }
  memcpy(vars, environ, n * sizeof *vars);
  qsort(vars, n, sizeof *vars, cmp);
  printf("Contents of MSG: %s\n", msg ? msg : "");
  for (size_t i = 0; i < n; i++)
    printf("%s\n", vars[i]);
  free(vars);
  return fflush(stdout) == 0 ? 0 : 1;
}

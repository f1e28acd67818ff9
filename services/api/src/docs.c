/* GET /docs/openapi.json: the OpenAPI 3 description of every route
 * (docs/openapi.json, made by scripts/openapi.py), compiled into the api by
 * cmake/embed.cmake so it is served wherever the api runs from. No
 * credentials: it describes the API, it holds no data. */
#include <stddef.h>

#include "api.h"

extern const unsigned char api_openapi_json[];
extern const size_t api_openapi_json_len;

void api_docs_openapi(api_req_t *r) {
  ahttp_respond(r->http, 200, "application/json", api_openapi_json, api_openapi_json_len);
}

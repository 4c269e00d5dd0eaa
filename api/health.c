/*
 * Liveness and readiness: no key needed.
 */
#include "api.h"

int api_healthz(struct req *req, struct app *app)
{
    (void)app;
    req_reply_json(req, HTTP_OK, json_pack("{s:s}", "status", "ok"));
    return 0;
}

int api_readyz(struct req *req, struct app *app)
{
    if (!store_ready(app->store))
        return err_set(req_err(req), ERR_UNAVAILABLE, "the database does not answer");
    req_reply_json(req, HTTP_OK,
                   json_pack("{s:s, s:i}", "status", "ready", "schema_version",
                             store_schema_version(app->store)));
    return 0;
}

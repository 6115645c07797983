/* probe.c: RTT and upload bandwidth to a live edge (see probe.h). */
#include "offloader/probe.h"

#include "common/status.h"
#include "common/timeutil.h"
#include "offloader/client.h"
#include "offloader/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_BYTES (16u << 10)
#define MIN_LARGE (64u << 10)
#define MAX_LARGE (32u << 20)
#define TARGET_S 0.4

/* Sends one INFER of n incompressible bytes to the unserved pair id; *dt the time from submit to
 * the edge's answer, which must be the UNKNOWN_PAIR refusal. */
static int upload_once(sl_client *c, size_t n, double *dt)
{
    static const uint8_t nobody[SL_PAIR_ID_SIZE] = {0};
    sl_wire_tensor t;
    int64_t dims[2] = {1, (int64_t)n};
    int rc = sl_wire_tensor_alloc(&t, SL_WIRE_U8, 2, dims);
    if (rc) return rc;
    uint32_t x = 2463534242u;
    uint8_t *d = t.data;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (uint8_t)x;
    }
    sl_client_result res;
    memset(&res, 0, sizeof res);
    rc = sl_client_infer(c, nobody, &t, &res);
    sl_wire_tensor_free(&t);
    if (res.edge_code == SL_PERR_UNKNOWN_PAIR)
        rc = SL_OK; /* the expected refusal: the edge read the whole frame */
    else if (rc == SL_OK)
        rc = sl_err(SL_EFORMAT, "the edge ran a %zu-byte probe for a pair id nobody deploys", n);
    else
        rc = sl_err(rc, "a %zu-byte probe: %s", n, res.error);
    *dt = res.timing.total_s;
    sl_client_result_free(&res);
    return rc;
}

/* The median time of `repeats` uploads of n bytes. */
static int upload_median(sl_client *c, size_t n, int repeats, double *med)
{
    double *s = calloc((size_t)repeats, sizeof *s);
    if (!s) return sl_err(SL_ENOMEM, "out of memory");
    int rc = SL_OK;
    for (int i = 0; !rc && i < repeats; i++)
        rc = upload_once(c, n, &s[i]);
    if (!rc) *med = sl_median(s, (size_t)repeats);
    free(s);
    return rc;
}

int sl_probe_run(const sl_probe_opts *o, sl_probe_result *r)
{
    memset(r, 0, sizeof *r);
    if (!o->edge || !o->token_file || o->pings < 1 || o->repeats < 1)
        return sl_err(SL_EARG, "probe: the edge, the token file, pings >= 1 and repeats >= 1 "
                               "are required");
    sl_client_config cfg;
    sl_client_config_defaults(&cfg);
    cfg.zstd_level = 0; /* the bytes sent are the bytes measured */
    cfg.lost_retries = 0;
    sl_client *c = NULL;
    int rc = sl_client_new_at(o->edge, o->token_file, &cfg, &c);
    if (!rc) rc = sl_client_connect(c);
    double *pings = calloc((size_t)o->pings, sizeof *pings);
    if (!rc && !pings) rc = sl_err(SL_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < o->pings; i++)
        rc = sl_client_ping(c, &pings[i]);
    if (!rc) r->rtt_s = sl_median(pings, (size_t)o->pings);
    free(pings);
    /* A first large upload warms the connection (TCP's window) and gives the estimate the large
     * size is chosen from. */
    double t0 = 0, ts = 0;
    size_t first = 256u << 10;
    if (!rc) rc = upload_once(c, first, &t0);
    if (!rc) rc = upload_median(c, SMALL_BYTES, o->repeats, &ts);
    if (!rc) {
        double est = t0 > ts ? 8.0 * (double)(first - SMALL_BYTES) / (t0 - ts) : 1e9;
        double want = est / 8.0 * TARGET_S;
        r->large_bytes = want < MIN_LARGE ? MIN_LARGE : want > MAX_LARGE ? MAX_LARGE : (size_t)want;
        r->small_bytes = SMALL_BYTES;
        r->small_s = ts;
        rc = upload_median(c, r->large_bytes, o->repeats, &r->large_s);
    }
    if (!rc) {
        if (r->large_s <= r->small_s)
            rc = sl_err(SL_ENET, "a %zu-byte upload took no longer than a %u-byte one: the link "
                                   "is too fast (or too noisy) to measure this way",
                        r->large_bytes, SMALL_BYTES);
        else
            r->bandwidth_bps =
                8.0 * (double)(r->large_bytes - r->small_bytes) / (r->large_s - r->small_s);
    }
    sl_client_free(c);
    if (rc) return sl_err_ctx(rc, "probe %s: ", o->edge);
    return SL_OK;
}

char *sl_probe_csv(const sl_probe_result *r)
{
    char *s = malloc(160);
    if (!s) return NULL;
    snprintf(s, 160, "source,destination,ping(ms),bandwidth(Mbps)\ndevice,edge,%.3f,%.4f\n",
             r->rtt_s * 1e3, r->bandwidth_bps / 1e6);
    return s;
}

/* test_results.c: the per-image lines, run summaries and plan predictions that `sl-offload
 * device` and `sl-offload bench` share (offloader/results.h). */
#include "common/fsutil.h"
#include "common/status.h"
#include "offloader/results.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

static sl_device_result result(int i, int via, double total)
{
    sl_device_result r = {.index = i, .file = "img.png", .via = via, .cls = 3, .score = 0.5};
    r.total_s = total;
    r.device_s = 0.1;
    r.encode_s = 0.01;
    r.transfer_s = 0.02;
    r.edge_queue_s = 0.003;
    r.edge_s = 0.004;
    r.bytes_up = 1000;
    r.bytes_down = 20;
    if (via == SL_VIA_ERROR) {
        r.cls = -1;
        r.status = SL_ETIMEOUT;
        snprintf(r.error, sizeof r.error, "edge timed out");
    }
    return r;
}

static void test_summary(void)
{
    sl_results k;
    CHECK_OK(sl_results_init(&k, 5), sl_errmsg());
    const double t[5] = {0.5, 0.1, 0.4, 0.2, 0.3};
    const int via[5] = {SL_VIA_EDGE, SL_VIA_EDGE, SL_VIA_FALLBACK, SL_VIA_ERROR, SL_VIA_EDGE};
    for (int i = 0; i < 5; i++) {
        sl_device_result r = result(i, via[i], t[i]);
        sl_results_add(&k, &r);
    }
    sl_results_summary s;
    sl_results_summarise(&k, 2.0, &s);
    CHECK_EQ(s.images, 5);
    CHECK_EQ(s.edge, 3);
    CHECK_EQ(s.fallback, 1);
    CHECK_EQ(s.errors, 1);
    CHECK_NEAR(s.median_s, 0.3, 1e-12);
    CHECK_NEAR(s.p95_s, 0.4 + 0.8 * 0.1, 1e-12); /* linear between the 4th and 5th of 5 */
    CHECK_NEAR(s.throughput_ips, 2.5, 1e-12);
    CHECK_NEAR(s.device_s, 0.1, 1e-12);
    CHECK_NEAR(s.edge_s, 0.007, 1e-12); /* the edge's queue counts as edge time */
    CHECK_NEAR(s.bytes_up, 1000, 1e-9);
    sl_results_free(&k);
    CHECK(k.total_s == NULL && k.n == 0);

    /* No images: zeros, not a division by zero. */
    CHECK_OK(sl_results_init(&k, 0), sl_errmsg());
    sl_results_summarise(&k, 0, &s);
    CHECK_EQ(s.images, 0);
    CHECK(s.median_s == 0 && s.throughput_ips == 0 && s.bytes_up == 0);
    sl_results_free(&k);
}

static void test_line(void)
{
    sl_device_result r = result(7, SL_VIA_EDGE, 0.25);
    float logits[2] = {1.5f, -2};
    r.logits = logits;
    r.nlogits = 2;
    r.class_name = "cat";
    char *line = sl_results_line(&r, 1);
    CHECK(line && !strchr(line, '\n'));
    cJSON *o = cJSON_Parse(line);
    CHECK(o != NULL);
    CHECK_EQ(cJSON_GetObjectItem(o, "index")->valuedouble, 7);
    CHECK_STR(cJSON_GetObjectItem(o, "via")->valuestring, "edge");
    CHECK_STR(cJSON_GetObjectItem(o, "class")->valuestring, "cat");
    CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "timing"), "total_s")->valuedouble, 0.25,
               1e-12);
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(o, "logits")), 2);
    CHECK(cJSON_GetObjectItem(o, "error") == NULL);
    cJSON_Delete(o);
    free(line);

    /* An error line has no class, names the error and leaves logits out unless asked. */
    r = result(8, SL_VIA_ERROR, 1.0);
    line = sl_results_line(&r, 0);
    o = cJSON_Parse(line);
    CHECK(o != NULL);
    CHECK_STR(cJSON_GetObjectItem(o, "via")->valuestring, "error");
    CHECK(cJSON_GetObjectItem(o, "class_index") == NULL);
    CHECK_STR(cJSON_GetObjectItem(o, "error")->valuestring, "edge timed out");
    CHECK(cJSON_GetObjectItem(o, "logits") == NULL);
    cJSON_Delete(o);
    free(line);
}

static void test_predictions(void)
{
    CHECK_NEAR(sl_results_prediction_error(0.11, 0.1), 0.1, 1e-12);
    CHECK(isnan(sl_results_prediction_error(-1, 0.1)));
    CHECK(isnan(sl_results_prediction_error(0.1, 0)));

    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    const char *plan =
        "{\"format\": \"sl-plan\", \"version\": 1, \"model\": \"m\", \"graph_hash\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", \"per_cut\": ["
        "{\"without_tl\": {\"cut\": {\"kind\": \"edge-only\", \"tensor\": \"input\"},"
        " \"latency_s\": {\"total\": 0.02}, \"bytes\": {\"upload\": 150528}}},"
        "{\"without_tl\": {\"cut\": {\"kind\": \"slice\", \"tensor\": \"relu1\"},"
        " \"latency_s\": {\"total\": 0.03}, \"bytes\": {\"upload\": 4096}},"
        " \"with_tl\": {\"cut\": {\"kind\": \"slice\", \"tensor\": \"relu1\"}, \"tl\": \"c8q8\","
        " \"latency_s\": {\"total\": 0.01}, \"bytes\": {\"upload\": 512}}}]}";
    CHECK_OK(sl_write_file_atomic(path, plan, strlen(plan)), sl_errmsg());
    double s, b;
    CHECK_OK(sl_results_plan_predict(path, 1, NULL, &s, &b), sl_errmsg());
    CHECK_NEAR(s, 0.02, 1e-12);
    CHECK_NEAR(b, 150528, 1e-9);
    CHECK_EQ(sl_results_plan_predict(path, 0, NULL, &s, &b), SL_ENOTFOUND);
    CHECK(s == -1 && b == -1);
    CHECK(strstr(sl_errmsg(), "plan.json") != NULL);
    snprintf(path + strlen(path) - 4, 8, "none");
    CHECK(sl_results_plan_predict(path, 1, NULL, &s, &b) != SL_OK);
    tu_rmtree(dir);
}

int main(void)
{
    test_summary();
    test_line();
    test_predictions();
    return TU_DONE();
}

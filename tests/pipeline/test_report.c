/* test_report.c: the report's predicted-beside-measured table and its plain-language verdicts,
 * on hand-made pipeline results whose verdicts are known. */
#include "common/fsutil.h"
#include "common/status.h"
#include "pipeline/report.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK_OK(sl_write_file_atomic(p, text, strlen(text)), sl_errmsg());
}

static const char *EVAL = "{\"accuracy\":0.9,\"images\":100,\"wire_bytes_per_image\":1536}";

/* A plan: best (local-only or split+tl), the best with a TL and the best split without one. */
static void plan(const char *dir, int local_best)
{
    char s[4096];
    const char *local = "{\"text\":\"local\",\"cut\":{\"kind\":\"local-only\",\"tensor\":\"fc\",\"bytes\":16},"
                        "\"latency_s\":{\"total\":0.012}}";
    const char *tl = "{\"text\":\"tl\",\"tl\":\"conv-r4-s2-b8\",\"cut\":{\"kind\":\"split\",\"tensor\":"
                     "\"features.3\",\"bytes\":98304},\"latency_s\":{\"total\":0.030}}";
    const char *notl = "{\"text\":\"notl\",\"cut\":{\"kind\":\"split\",\"tensor\":\"features.17\",\"bytes\":"
                       "20480},\"latency_s\":{\"total\":0.060},\"bytes\":{\"upload\":20480}}";
    snprintf(s, sizeof s,
             "{\"format\":\"sl-plan\",\"version\":1,\"model\":\"m\",\"best\":%s,\"best_with_tl\":%s,"
             "\"best_without_tl\":%s,\"best_split_without_tl\":%s,\"plans\":[]}",
             local_best ? local : tl, tl, local_best ? local : notl, notl);
    put(dir, "plan.json", s);
}

/* bench.json: local 12 ms (predicted 12), split+tl 30 ms (predicted `tl_pred`). */
static void bench(const char *dir, double tl_pred, const char *choice, const char *fastest)
{
    char s[4096];
    double err = (tl_pred - 0.030) / 0.030;
    snprintf(s, sizeof s,
             "{\"images\":60,\"bandwidth_bps\":1e7,\"rtt_s\":0.02,\"modes\":["
             "{\"mode\":\"local\",\"median_s\":0.012,\"p95_s\":0.013,\"predicted_s\":0.012,\"error\":0,"
             "\"error_over_limit\":false,\"bytes_per_image\":0,\"throughput_ips\":80,\"errors\":0},"
             "{\"mode\":\"split+tl\",\"median_s\":0.030,\"p95_s\":0.031,\"predicted_s\":%g,\"error\":%g,"
             "\"error_over_limit\":%s,\"bytes_per_image\":1536,\"throughput_ips\":30,\"errors\":0}],"
             "\"measured_fastest\":\"%s\",\"plan_choice\":{\"mode\":\"%s\",\"ran\":true}}",
             tl_pred, err, err > 0.1 || err < -0.1 ? "true" : "false", fastest, choice);
    put(dir, "bench.json", s);
}

static char *summary(const char *dir)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    CHECK(f != NULL);
    if (!f) return NULL;
    CHECK_OK(sl_report_summary(dir, f), sl_errmsg());
    fclose(f);
    return text;
}

int main(void)
{
    const char *dir = tu_tmpdir();
    put(dir, "eval-base.json", EVAL);
    put(dir, "eval-pair.json", EVAL);

    /* Local wins, every prediction holds, the plan chose the fastest. */
    plan(dir, 1);
    bench(dir, 0.031, "local", "local");
    char *s = summary(dir);
    CHECK_CONTAINS(s, "Running the whole model on the device is predicted fastest (12.0 ms)");
    CHECK_CONTAINS(s, "The transfer layer makes the best split 2.00x faster");
    CHECK_CONTAINS(s, "within 10% of its measurement (2 modes)");
    CHECK_CONTAINS(s, "The plan's choice, local, was the measured fastest mode (12.0 ms)");
    CHECK_CONTAINS(s, "+3%");
    free(s);

    /* The TL split is planned, its prediction misses by 20%, and local was faster. */
    plan(dir, 0);
    bench(dir, 0.024, "split+tl", "local");
    s = summary(dir);
    CHECK(s && !strstr(s, "Running the whole model"));
    CHECK_CONTAINS(s, "The prediction for split+tl missed by more than 10%: 24.0 ms predicted, 30.0 ms "
                      "measured (-20%)");
    CHECK_CONTAINS(s, "-20%!");
    CHECK_CONTAINS(s, "was NOT the measured fastest: local took 12.0 ms");
    free(s);
    char html[1024], *h = NULL;
    snprintf(html, sizeof html, "%s/report.html", dir);
    CHECK_OK(sl_report_write(dir, html), sl_errmsg());
    CHECK_OK(sl_read_file(html, &h, NULL), sl_errmsg());
    CHECK_CONTAINS(h, "<td class=bad>-20% !</td>");
    CHECK_CONTAINS(h, "<h2>Verdict</h2>");
    CHECK_CONTAINS(h, "was NOT the measured fastest");
    CHECK(!strstr(h, "Live device run"));
    free(h);

    /* The live device run: answered by whom, latency, bytes, accuracy against the class folder. */
    put(dir, "device-results.jsonl",
        "{\"index\":0,\"file\":\"t/crack/a.png\",\"via\":\"edge\",\"class\":\"crack\","
        "\"timing\":{\"total_s\":0.030},\"bytes_up\":1536}\n"
        "{\"index\":1,\"file\":\"t/ok/b.png\",\"via\":\"edge\",\"class\":\"crack\","
        "\"timing\":{\"total_s\":0.020},\"bytes_up\":1536}\n"
        "{\"index\":2,\"file\":\"t/ok/c.png\",\"via\":\"fallback\",\"class\":\"ok\","
        "\"timing\":{\"total_s\":0.010},\"bytes_up\":0}\n");
    CHECK_OK(sl_report_write(dir, html), sl_errmsg());
    CHECK_OK(sl_read_file(html, &h, NULL), sl_errmsg());
    CHECK_CONTAINS(h, "<h2>Live device run</h2>");
    CHECK_CONTAINS(h, "<td>3</td><td>2</td><td>1</td><td>0</td><td>20.0 ms</td><td>20.0 ms</td>"
                      "<td>1.0 kB</td><td>66.67% of 3</td>");
    CHECK_CONTAINS(h, "<th>agrees with local</th>");
    free(h);

    /* Within 5% of the fastest counts as right. */
    bench(dir, 0.030, "split+tl", "local");
    put(dir, "bench.json",
        "{\"images\":60,\"bandwidth_bps\":1e7,\"rtt_s\":0.02,\"modes\":["
        "{\"mode\":\"local\",\"median_s\":0.0300,\"predicted_s\":0.03,\"error\":0},"
        "{\"mode\":\"split+tl\",\"median_s\":0.0310,\"predicted_s\":0.031,\"error\":0}],"
        "\"measured_fastest\":\"local\",\"plan_choice\":{\"mode\":\"split+tl\",\"ran\":true}}");
    s = summary(dir);
    CHECK_CONTAINS(s, "was within 5% of the measured fastest, local (30.0 ms)");
    free(s);
    tu_rmtree(dir);
    return TU_DONE();
}

/* trainer_fixture.h: what the trainer tests share beyond the image set and options of
 * trainer_data.h (which bench/bench_train.c uses too): checked bundle reads, parameter
 * comparisons, an interrupted-and-resumed run, and reading the training log. */
#ifndef SL_TESTS_TRAINER_FIXTURE_H
#define SL_TESTS_TRAINER_FIXTURE_H

#include "model/bundle.h"
#include "testutil.h"
#include "trainer_data.h"

#include <cjson/cJSON.h>
#include <math.h>

/* Runs o interrupted and resumed: to `part` with checkpoint ck, stopped after epoch 1 (checked),
 * then on from ck to `resumed`. Leaves o as the resumed run had it (out, resume, checkpoint ck,
 * stop_after 0) and the resumed run's result in *r (may be NULL). Returns the first failed
 * status (its message in sl_errmsg()), or 0. */
static inline int td_fit_interrupted(sl_train_opts *o, const char *part, const char *resumed,
                                     const char *ck, sl_train_result *r)
{
    sl_train_result first;
    o->out = part;
    o->checkpoint = ck;
    o->stop_after = 1;
    int rc = sl_train_fit(o, &first);
    if (rc) return rc;
    CHECK_EQ(first.epochs_run, 1);
    o->out = resumed;
    o->stop_after = 0;
    o->resume = ck;
    return sl_train_fit(o, r);
}

/* The bundle at path (the caller frees it with sl_bundle_free), read under a check: NULL after a
 * failed check. */
static inline sl_bundle *td_read_bundle(const char *path)
{
    sl_bundle *b = NULL;
    CHECK_OK(sl_bundle_read(path, &b), sl_errmsg());
    return b;
}

/* Largest difference over every parameter of a against b's parameter of the same node and name;
 * -1 when one has no counterpart in b or cannot be compared. */
static inline double td_graph_diff(const sl_graph *a, sl_graph *b)
{
    double worst = 0;
    for (int i = 0; i < a->nnodes; i++) {
        int j = sl_graph_find(b, a->nodes[i].name);
        for (int k = 0; k < a->nodes[i].nparams; k++) {
            const sl_param *p = &a->nodes[i].params[k];
            const sl_param *q = j >= 0 ? sl_node_param(&b->nodes[j], p->name) : NULL;
            double d = -1;
            if (!q || sl_max_abs_diff(p->t, q->t, &d, NULL)) return -1;
            if (d > worst) worst = d;
        }
    }
    return worst;
}

/* td_graph_diff of the bundles at paths a and b; -1 when either cannot be read. */
static inline double td_bundles_diff(const char *a, const char *b)
{
    sl_bundle *x = NULL, *y = NULL;
    double d = -1;
    if (!sl_bundle_read(a, &x) && !sl_bundle_read(b, &y)) d = td_graph_diff(x->graph, y->graph);
    sl_bundle_free(x);
    sl_bundle_free(y);
    return d;
}

/* The number under `key` on each line of the JSON-lines training log at path, into v (at most
 * max lines; NAN where a line lacks it). Returns the number of lines read (0 when the log cannot
 * be opened). */
static inline int td_log_values(const char *path, const char *key, double *v, int max)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *x = cJSON_GetObjectItem(j, key);
        v[n++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        cJSON_Delete(j);
    }
    if (f) fclose(f);
    return n;
}

#endif

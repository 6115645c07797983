/* test_plot.c: the SVG chart of the hand-made selection: one stacked bar per cut without TL and
 * one per TL cut, bar heights in proportion to latency, excluded plans faded, best plans marked,
 * tensor names escaped. */
#include "common/status.h"
#include "fixture.h"
#include "preprocessor/plot.h"
#include "testutil.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Sum of the heights of the rects in the bar group whose title starts with `title`. */
static double bar_height(const char *svg, const char *title)
{
    const char *g = strstr(svg, title);
    const char *end = g ? strstr(g, "</g>") : NULL;
    double h = 0;
    for (const char *p = g; p && p < end && (p = strstr(p, "<rect ")) && p < end; p++) {
        const char *fill = strstr(p, "fill=\"");
        if (fill && !strncmp(fill, "fill=\"url(", 10)) continue; /* hatch overlay */
        const char *hh = strstr(p, "height=\"");
        h += hh ? atof(hh + 8) : 0;
    }
    return h;
}

static void test_chart(void)
{
    sl_profile *dev = fx_device(), *edge = fx_edge();
    /* A tensor name that needs escaping in SVG text. */
    free(dev->cuts[2].tensor);
    dev->cuts[2].tensor = strdup("conv<2>&");
    sl_constraints c = {0};
    sl_select_input in = fx_two_tier(dev, edge);
    in.constraints = &c;
    CHECK_OK(sl_constraints_add(&c, "--max-upload", "0.1MB"), sl_errmsg());
    CHECK_OK(sl_constraints_resolve(&c, dev, 0), sl_errmsg());
    sl_selection s;
    CHECK_OK(sl_select_run(&in, &s), sl_errmsg());
    char *svg = sl_plot_svg(&in, &s);
    CHECK(svg != NULL);
    if (svg) {
        CHECK(!strncmp(svg, "<?xml", 5));
        CHECK_EQ(count(svg, "<g opacity="), 5);         /* 4 cuts without TL + 1 with */
        CHECK_EQ(count(svg, "<g opacity=\"0.3\">"), 2); /* edge-only and cut 1 send > 0.1 MB */
        CHECK_CONTAINS(svg, "(excluded by a constraint)");
        CHECK_CONTAINS(svg, ">best<");
        CHECK_CONTAINS(svg, ">best w/o TL<");
        CHECK_CONTAINS(svg, "conv&lt;2&gt;&amp;");
        CHECK(!strstr(svg, "conv<2>"));
        CHECK_CONTAINS(svg, "predicted latency per image (ms)");
        /* Bars scale with latency: local-only (0.155 s) against the TL plan (0.11555 s). */
        double local = bar_height(svg, "<title>155.0 ms"), tl = bar_height(svg, "<title>115.5 ms");
        CHECK(local > 0 && tl > 0);
        if (tl > 0) CHECK_NEAR(local / tl, 0.155 / 0.11555, 1e-3);
        free(svg);
    }
    sl_selection_free(&s);
    sl_constraints_free(&c);
    sl_profile_free(dev);
    sl_profile_free(edge);
}

int main(void)
{
    test_chart();
    return TU_DONE();
}

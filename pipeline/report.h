/* report.h: the product line's report, readable without the terminal. */
#ifndef SL_PIPELINE_REPORT_H
#define SL_PIPELINE_REPORT_H

#include <stdio.h>

/* Reads dir/plan.json, plan.svg, plan.txt, eval-base.json, eval-pair.json and (optional)
 * bench.json and writes one self-contained HTML file at path (atomically): summary (accuracy of
 * the base model and of the split pair, bytes with and without the TL), the plan chart and the
 * ranked plans, predicted beside measured latency with the error of every mode (a miss over 10%
 * marked), a verdict in plain words (whether offloading pays at all, what the TL gains, whether
 * the predictions hold, whether the plan's choice was the measured fastest within 5%), confusion
 * matrices, and the live device run when device-results.jsonl is there (who answered, latency,
 * bytes, accuracy against each image's class folder). A missing required input is an error naming it. */
int sl_report_write(const char *dir, const char *path);

/* Prints the same results, verdict included, as a few lines of text for a terminal (what
 * `make demo` ends with). */
int sl_report_summary(const char *dir, FILE *f);

#endif

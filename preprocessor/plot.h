/* plot.h: the SVG chart of a selection: for every slice point a stacked bar of device /
 * transfer / edge (/ cloud) time without and with a TL, side by side, best plans marked. */
#ifndef SL_PREPROCESSOR_PLOT_H
#define SL_PREPROCESSOR_PLOT_H

#include "preprocessor/select.h"

/* Renders the chart as a new SVG string (caller frees); NULL with the message set on failure. */
char *sl_plot_svg(const sl_select_input *in, const sl_selection *s);

/* Writes the chart to `path` atomically; on error nothing at `path` is changed. */
int sl_plot_write_svg(const char *path, const sl_select_input *in, const sl_selection *s);

#endif

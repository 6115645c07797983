/* link_estimate.h: what an adaptive device knows about its link, and which plan of a plan
 * table (docs/formats/plan-table.md) to run on it. Pure: no sockets, no clock — every call is given
 * the time `now` in seconds, so tests feed synthetic timings.
 *
 * The estimate. Each answered request tells: bytes sent B, the time from sending to the answer
 * T, and the compute time the edge reported E (TL decode + suffix). The network took T - E,
 * which the cost model splits as RTT + 8B / bandwidth. The RTT comes from probes (small
 * exchanges, sl_link_observe_rtt) and starts at a prior; the rest, T - E - RTT, is the transfer,
 * and its time per bit is averaged (EWMA, weight `alpha` for the new sample). Averaging time per
 * bit rather than bandwidth keeps the average unbiased for latency, which is linear in it.
 * (On the wire E is the RESULT frame's queue_ns + run_ns, docs/protocol.md: queueing on a
 * loaded edge is edge time too.) Subtracting E is what keeps a slow or loaded edge from reading as
 * a slow link. A real change shows as `jump_run` samples in a row off the average by more than
 * `jump_ratio` in the same direction; the average then restarts from those samples instead of
 * creeping towards them.
 *
 * The noise. The RTT estimate is an average of a few PINGs, and this request's own RTT differs
 * from it: scheduling on either host, a PING timed while the machine was loading models. So the
 * transfer x = T - E - RTT is only known to within a noise allowance
 *   noise = max(rtt_noise * RTT, 8B / 10 Gbit/s)
 * (a quarter of the RTT by default; the second term keeps it above 0 on a link with no RTT).
 * PINGs narrow it: once SL_LINK_PINGS_TRUSTED of them are in, the allowance is at most 4 times
 * their mean deviation from the RTT estimate (TCP's RTTVAR rule; the deviation starts at the
 * first two PINGs' difference and is averaged with weight 1/4), so on a steady link the device
 * measures transfers a quarter of the RTT would hide; a jittery one keeps the quarter.
 * A transfer above the allowance is measured. One at or below it cannot be told from the RTT's
 * jitter: what it says is "the transfer took no longer than max(x, 0) + noise", an upper bound
 * on time, a lower bound on bandwidth. Such a censored sample leaves the average alone when the
 * average already meets the bound, and otherwise is folded as that bound, the slowest transfer
 * it allows. It is never folded as a transfer of 0 (before 5 Dec it was, and three of them in a
 * row restarted the average at "infinite" bandwidth: a small upload whose transfer sat in the
 * RTT's jitter made the device flap to the biggest upload near a crossover). So no sample
 * folded is faster than 8B / noise for its B, and none is above 10 Gbit/s. An exchange shorter
 * than RTT - noise shows that the RTT estimate is too high for now: T - E is an upper bound on
 * this request's RTT, and the RTT average is pulled towards it (EWMA, `alpha`), so it stays above
 * the RTT that request had. A longer one says nothing about the RTT, which only PINGs raise (the
 * transfer and the RTT cannot be told apart in one sample).
 *
 * The head. After the idle moment between two requests a link may let the first packet through
 * faster than its rate (tc tbf's bucket of one packet, an empty queue): a request of B bytes
 * whose transfer reads x may have sent only B - SL_LINK_HEAD_BYTES at the rate, and its transfer
 * at the rate may be longer than x by up to (x + noise) * HEAD / (B - HEAD) besides the noise
 * (sl_link_noise_above). That wider allowance above x is what censors, bounds and makes a sample
 * precise; the one below x stays the noise. A plan of a few kB is always censored, one of at most
 * HEAD bytes teaches nothing of the rate. (On 5 Dec 13:07 the TL split's 2.7 kB came back
 * 2.1 ms after the RTT on a 5 Mbit/s tbf link, 10 Mbit/s as read; with the noise narrowed to
 * 0.3 ms by the PINGs they were measured and averaged, the estimate reached 9.4 Mbit/s, and the
 * device flapped between the split and edge-only: test_link_noise's test_trace_1307.)
 *
 * A measured sample after censored ones. A transfer measured beyond the noise but within
 * SL_LINK_PRECISE x the noise (the allowance above it, with the head) is folded, yet may be off
 * by its whole value: a plan whose transfers straddle the noise measures only their slow tail.
 * While the last samples were censored or so imprecise, the estimate is only a bound: the link
 * may be much faster than it says. A sample measured beyond SL_LINK_PRECISE x that allowance
 * that reads faster than the estimate then replaces it (no EWMA step, no jump run to wait for):
 * the bound was all the estimate knew. One that reads slower is folded as usual (the censoring
 * errs fast, never slow, so that direction needs no shortcut).
 *
 * Worked: RTT estimate 24 ms (a PING on a loaded host; the link's RTT is 20 ms), noise 6 ms, a TL
 * split sending 3 kB (24 kbit) at 5 Mbit/s, that is 4.8 ms. A request answered 23 ms after its
 * send, less its edge time, gives x = -1 ms: censored, transfer <= 6 ms, bandwidth >= 4 Mbit/s,
 * which the estimate of 5 Mbit/s meets: nothing changes (before, the sample read as a transfer
 * of 0). An edge-only request of 19 kB (30.4 ms) answered after 51 ms gives x = 27 ms: measured,
 * 5.6 Mbit/s (the RTT estimate's 4 ms of error, 15 %, is still in it).
 *
 * The edge. The same answers tell how fast the edge is now against its profile: each sample
 * E / edge_s (the plan's edge share in the table) is averaged into `edge_ratio` (EWMA, `alpha`),
 * which starts at 1. A starved or loaded edge raises it for every offloading plan at once.
 *
 * The choice. Every plan's latency is predicted at the estimate as
 *   fixed_s + (pays_rtt ? rtt + (edge_ratio - 1) * edge_s : 0) + 8 * bytes / bandwidth
 * (the plan table's formula, with the edge share scaled by what the edge shows now, and `bytes`
 * what the device measured sending on the plan, or the table's upload_bytes before it sent any:
 * sl_link_plan_bytes). The chooser
 * moves to another plan only when it is predicted faster than the current one on every link
 * within `margin` of the estimate (0.25: time per bit, RTT and edge ratio each 25 % off either
 * way, sl_link_beats) on `confirm` consecutive new estimates, so noise around a boundary does not
 * flap between two plans. The margin is on the estimate, not on the latency: two plans that share
 * most of their latency (the RTT, the device's compute) but differ in what they send switch where
 * the link moves past their crossover by the margin, not only once one is 10 % faster in all
 * (bench/trace.sh's TL split and edge-only, 9 % apart at 20 Mbit/s as predicted, 13 % as
 * measured, never switched under the old rule even with the estimate right). Until 5 Dec
 * the margin was 10 % of the current plan's latency; at the hand-made profile's crossover below,
 * that is about the link off by 25 %. After a switch it does not go back to the plan it left for
 * `hold_s` seconds (the estimates go on counting, and the switch back comes at the first estimate
 * after the hold); a move on to a third plan, as an estimate converges, is not held. Noise that
 * beats the margin — a starved host's requests read as a slow link, then a fast one — gets through
 * margin and confirmation; against it the hold backs off: a switch back that comes within 4 holds
 * of the one before doubles the hold after it, up to 8 x hold_s, and any other switch restores
 * hold_s. Time is the estimate's own clock (the `now` of its last sample), so the chooser is as
 * deterministic as its inputs. An estimate is stale when no sample arrived for `stale_s` seconds (a
 * local-only plan sends nothing): the device may then probe.
 *
 * Example: plans {local-only 0.155 s}, {TL split: 0.05555 s + RTT + 400 kbit}, {edge-only:
 * 0.00635 s + RTT + 1.2 Mbit}, RTT 20 ms. At 10 Mbit/s the TL split is predicted at 0.11555 s,
 * edge-only 0.14635, local-only 0.155: the chooser holds the TL split. When the link falls to
 * 1 Mbit/s, local-only (0.155) beats the TL split (0.47555, 0.40 at a link 25 % faster) from the
 * first slow sample, and after `confirm` of them the chooser switches.
 */
#ifndef SL_OFFLOADER_LINK_ESTIMATE_H
#define SL_OFFLOADER_LINK_ESTIMATE_H

typedef struct sl_link_config {
    double alpha;       /* EWMA weight of a new sample, (0, 1]; default 0.2 */
    double prior_bps;   /* bandwidth before any sample, > 0 (the table's link, say) */
    double prior_rtt_s; /* RTT before any probe, >= 0 */
    double jump_ratio;  /* a sample this many times off the average is a jump; default 3 */
    int jump_run;       /* this many jumps in a row restart the average; default 3 */
    double margin;      /* switch only when predicted faster with the estimate off by this
                           fraction either way (sl_link_beats), [0, 1); default 0.25 */
    int confirm;        /* ... on this many consecutive estimates; default 3 */
    double hold_s;      /* no switch back to the plan just left for this long, >= 0; default 1 */
    double stale_s;     /* no sample for this long: stale; default 5 */
    double rtt_noise;   /* the RTT estimate is trusted to this fraction of itself, >= 0; 0.25 */
} sl_link_config;

/* A measured transfer of at most this many noise allowances is still off by up to its whole
 * value: it is folded, but as to what the estimate knows it counts as censored (censored_run,
 * sl_link_blind). */
#define SL_LINK_PRECISE 2

/* The head a link may let through faster than its rate after an idle moment, in bytes: a
 * shaper's bucket (tc tbf's burst of one packet), a queue that was empty. A transfer of B bytes
 * measured as x may then be of B - HEAD bytes only (sl_link_noise_above). One Ethernet MTU. */
#define SL_LINK_HEAD_BYTES 1500

/* PINGs needed before their deviation narrows the noise allowance. */
#define SL_LINK_PINGS_TRUSTED 4

/* The defaults above, with the priors given. */
sl_link_config sl_link_config_default(double prior_bps, double prior_rtt_s);

typedef struct sl_link_estimate {
    sl_link_config cfg;
    double spb;        /* average transfer time per bit, s/bit (1 / bandwidth) */
    double rtt_s;      /* average RTT */
    long n_samples;    /* requests observed (each one is a new estimate) */
    long n_rtt;        /* probes observed */
    double last_s;     /* time of the last sample or probe, `now` of the caller; -1 for never */
    int jump_dir;      /* +1 / -1 while a run of jumps is going on, else 0 */
    int jump_n;        /* samples in that run */
    double jump_sum;   /* their time per bit, summed */
    double jump_ref;   /* the average when the run began */
    double edge_ratio; /* average of measured / profiled edge time, 1 before any sample */
    long n_edge;       /* edge samples folded in */
    long n_censored;   /* samples whose transfer was within the noise (of n_samples) */
    double measured_s; /* time of the last sample measured beyond SL_LINK_PRECISE x the noise,
                          -1 for none */
    int censored_run;  /* samples since then (censored, or measured within that) */
    long n_reset;      /* measured samples that replaced a bound (see the top of this file) */
    double rtt_dev;    /* mean deviation of the PINGs from the RTT estimate (n_rtt >= 2) */
} sl_link_estimate;

/* Starts an estimate at the config's priors. Returns 0, or SL_EARG naming the field when the
 * config is out of range (then *e is zeroed). */
int sl_link_init(sl_link_estimate *e, const sl_link_config *cfg);

/* One answered request at time `now`: `bytes` sent (> 0), `elapsed_s` from sending to the
 * answer, `edge_s` the compute time the edge reported (>= 0). Returns 0; SL_EARG (and the
 * estimate unchanged) for a negative or non-finite value, no bytes, or edge_s > elapsed_s (the
 * edge claims more time than the whole exchange took). A sample whose transfer is within the
 * noise (sl_link_noise) is censored as described above, and one whose network time is below the
 * RTT estimate by more than the noise also lowers the RTT estimate; neither is an error. */
int sl_link_observe(sl_link_estimate *e, double bytes, double elapsed_s, double edge_s, double now);

/* One request whose transfer time is known without an RTT in it: `transfer_s` for `bytes` at
 * `now` (a pipelined request timed from the answer before it, the link busy all along). Folded as
 * sl_link_observe folds its transfer, censored within the noise; the RTT is left alone. Returns
 * 0; SL_EARG (nothing changed) for a negative or non-finite value or no bytes. */
int sl_link_observe_transfer(sl_link_estimate *e, double bytes, double transfer_s, double now);

/* 1 when samples come but none was measured beyond SL_LINK_PRECISE x the noise for cfg.stale_s
 * seconds before `now`: the plan in use sends too little to tell the link's speed, and a request
 * on a plan that sends more would; else 0. */
int sl_link_blind(const sl_link_estimate *e, double now);

/* The noise allowance of a transfer of `bytes` at the estimate's RTT (see the top of this file):
 * a transfer this short or shorter is not measured, only bounded. */
double sl_link_noise(const sl_link_estimate *e, double bytes);

/* How much longer than a measured `x` the transfer of `bytes` at the link's rate may be: the
 * noise, plus the time of a head of SL_LINK_HEAD_BYTES that may have gone through free, at the
 * slowest rate the sample allows: noise + (max(x, 0) + noise) * HEAD / (bytes - HEAD). Infinite
 * when bytes <= HEAD (such a request may have gone through free). This, not sl_link_noise, is
 * what censors and what makes a sample precise (see the top of this file). */
double sl_link_noise_above(const sl_link_estimate *e, double bytes, double x);

/* The edge time `edge_s` (queue + compute) one answer reported, for a plan whose table edge share
 * is `table_edge_s`: folded into edge_ratio. A plan without an edge share (table_edge_s <= 0,
 * tables before it was written) teaches nothing and is ignored (0). SL_EARG for a negative or
 * non-finite edge_s. */
int sl_link_observe_edge(sl_link_estimate *e, double edge_s, double table_edge_s);

/* A probe's round-trip time (a small exchange; its transfer time is neglected), also averaged
 * into rtt_dev. Same errors. */
int sl_link_observe_rtt(sl_link_estimate *e, double rtt_s, double now);

/* The estimated bandwidth in bit/s: finite, and at most 10 Gbit/s unless the prior was above. */
double sl_link_bandwidth(const sl_link_estimate *e);

/* 1 when no sample or probe arrived for cfg.stale_s seconds before `now` (or none ever), else 0. */
int sl_link_stale(const sl_link_estimate *e, double now);

/* One plan as the chooser sees it (the plan table's "plans" entries). */
typedef struct sl_link_plan {
    double fixed_s;      /* everything but the device->edge RTT and transfer */
    double upload_bytes; /* bytes sent per image */
    int pays_rtt;        /* 0 for local-only */
    int cut, cut2;       /* the table's cut.index and cut2.index (-1 for null) */
    char tensor[128];    /* the table's cut.tensor: which bundle pair runs this plan */
    char tl[64];         /* the TL configuration, "" for none */
    double edge_s;       /* the edge's share of fixed_s (codec + TL decode + its half); 0 when the
                            table does not give it */
    double sent_bytes;   /* bytes per image this device measured on the wire for the plan (EWMA,
                            sl_link_observe_sent); 0 until it sent one. Not in the table */
} sl_link_plan;

/* The bytes plan p puts on the wire per image: what the device measured sending (sent_bytes),
 * else the table's upload_bytes (the wire size when the table was selected on profiles with wire
 * sizes, the raw tensor before them or in a hand-made table). */
double sl_link_plan_bytes(const sl_link_plan *p);

/* One request of plan p sent `bytes` on the wire (the INFER frame, compressed): averaged into
 * p->sent_bytes (EWMA, e's alpha; the first replaces it). SL_EARG for bytes not > 0 or not
 * finite (nothing changed). */
int sl_link_observe_sent(const sl_link_estimate *e, sl_link_plan *p, double bytes);

/* A plan table as the device reads it (docs/formats/plan-table.md). */
typedef struct sl_link_table {
    char model[128];
    char graph_hash[65];
    sl_link_plan *plans; /* owned, n_plans >= 1 */
    int n_plans;
    int n_links;         /* the table's links (sorted by bandwidth); 0 when it lists none */
    double link_bps[64]; /* their bandwidth_bps */
    double link_rtt[64]; /* and rtt_s */
} sl_link_table;

/* Parses the JSON text of a plan table; `what` (the path) names it in messages. Checks format
 * "sl-plan-table", version 1, a 64-digit graph_hash and every plan's fields; reads the links'
 * bandwidth_bps (> 0) and rtt_s (>= 0) when "links" is there (at most 64). Returns 0;
 * SL_EFORMAT naming `what` and the field (e.g. "plans[1].fixed_s"); SL_ENOMEM. On error *out
 * is zeroed. Free with sl_link_table_free. */
int sl_link_table_parse(const char *text, const char *what, sl_link_table *out);

/* Reads and parses the plan table at `path`: as sl_link_table_parse, or SL_EIO naming it. */
int sl_link_table_read(const char *path, sl_link_table *out);

/* Frees what t owns and zeroes it; NULL is a no-op. */
void sl_link_table_free(sl_link_table *t);

/* The predicted latency of plan p at the estimate (with sl_link_plan_bytes as its bytes). */
double sl_link_predict(const sl_link_estimate *e, const sl_link_plan *p);

typedef struct sl_link_chooser {
    const sl_link_plan *plans; /* borrowed, n of them */
    int n;
    int current;     /* the plan in use */
    int candidate;   /* the plan that beat it on the last estimates, -1 for none */
    int streak;      /* how many consecutive estimates it did */
    long seen;       /* n_samples + n_rtt of the last estimate counted */
    long switches;   /* switches so far */
    int previous;    /* the plan the last switch left (valid when switches > 0) */
    double switch_s; /* the estimate's time at the last switch (valid when switches > 0) */
    double hold_s;   /* the hold after it: cfg.hold_s, doubled while switches come fast */
} sl_link_chooser;

/* The longest hold the back-off reaches, in units of cfg.hold_s, and how soon after the previous
 * switch (in holds) a switch counts as fast. */
#define SL_LINK_HOLD_MAX 8
#define SL_LINK_HOLD_FAST 4

/* 1 when plan a is predicted faster than plan b on every link within the margin of the estimate:
 * its time per bit, RTT and edge ratio each off by the factor 1 + cfg.margin either way (the
 * difference of two predictions is linear in the three, so the eight corners bound it); else 0. */
int sl_link_beats(const sl_link_estimate *e, const sl_link_plan *a, const sl_link_plan *b);

/* Starts with plan `initial` in use. Returns 0, or SL_EARG when n < 1 or initial is out of
 * range. */
int sl_link_chooser_init(sl_link_chooser *c, const sl_link_plan *plans, int n, int initial);

/* Looks at the estimate; when it is new since the last call (a sample or probe came in),
 * another plan has beaten the current one (sl_link_beats) on `confirm`
 * consecutive new estimates, and (when it is the plan the last switch left) the hold since that
 * switch is over at the estimate's time, e->last_s, switches to it. Returns the plan to use for the
 * next request and sets *switched (may be NULL) to 1 when this call switched, else 0. Calling again
 * without a new sample changes nothing. */
int sl_link_choose(sl_link_chooser *c, const sl_link_estimate *e, int *switched);

/* Seeing a faster link from a plan that sends little. An offloading plan whose transfers all sit
 * within the noise leaves the estimate blind (sl_link_blind): it cannot see the link get faster.
 * So does one whose transfer at the estimate is within SL_LINK_PRECISE x the noise above it
 * (sl_link_noise_above: with the head), even when some samples are measured: on a loaded host,
 * answers late by a scheduling delay are measured, slow, and say nothing of a faster link.
 * The prober then sends images on the offloading plan sending the next more bytes among those
 * predicted faster than the current one on an infinitely fast link (a plan that loses at every
 * bandwidth is not worth a probe; no margin, a probe is one image), skipping those sending less
 * than SL_LINK_PROBE_BYTES when another sends more (a transfer within a few heads is never
 * measured, sl_link_noise_above: with none that big, the plan sending the most): a burst of up to
 * SL_LINK_PROBE_BURST of them, one at a time, until a sample is measured beyond SL_LINK_PRECISE x
 * the noise, at most one burst per cfg.stale_s; and more, as many as may be in flight, while such
 * probes read the link faster than the estimate (a run of jumps down). Pure, like the rest of this
 * file: the device gives the time and the probes in flight. */
#define SL_LINK_PROBE_BURST 3
#define SL_LINK_PROBE_BYTES (4 * SL_LINK_HEAD_BYTES)

typedef struct sl_link_prober {
    double burst_s; /* `now` when the last burst began, -1 for none */
    int left;       /* probes left in that burst */
    int run;        /* the last image was a probe */
} sl_link_prober;

void sl_link_prober_init(sl_link_prober *p);

/* The plan to send the next image on instead of plan `cur` (a probe), or -1: as above, with
 * `out` probes in flight and at most `max_out` allowed (the pipeline). */
int sl_link_probe_up(sl_link_prober *p, const sl_link_estimate *e, const sl_link_plan *plans, int n,
                     int cur, int out, int max_out, double now);

#endif

/* fixture.h: a small hand-made profile (a 4-node chain with a TL at one cut) for the select
 * tests, with numbers chosen so every plan's latency can be worked out by hand. */
#ifndef SL_TEST_PREPROCESSOR_FIXTURE_H
#define SL_TEST_PREPROCESSOR_FIXTURE_H

#include "preprocessor/profile_io.h"
#include "preprocessor/select.h"

#include <stdlib.h>
#include <string.h>

#define FX_HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FX_HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Nodes: 0 conv1 <- image, 1 maxpool <- conv1, 2 conv2 <- maxpool, 3 fc <- conv2.
 * Cuts: 0 image (raw 150000 B), 1 maxpool (200000 B; TL "pool": 50000 B), 2 conv2 (100000 B),
 * 3 fc (40 B). Blocks: 0 = nodes 0-1, 1 = node 2, 2 = node 3. `block_s` are the three block
 * times, `enc_s`/`dec_s` the pool TL's times, `ser` the serialise rate in bytes/s. */
static inline sl_profile *fx_profile(const char *hash, const double block_s[3], double enc_s,
                                     double dec_s, double ser)
{
    static const char *names[4] = {"conv1", "maxpool", "conv2", "fc"};
    static const char *ops[4] = {"conv2d", "max_pool2d", "conv2d", "linear"};
    static const int64_t out_bytes[4] = {800000, 200000, 100000, 40};
    sl_profile *p = calloc(1, sizeof *p);
    p->model = strdup("chain4");
    memcpy(p->graph_hash, hash, 65);
    p->host = strdup("testhost");
    p->cpu = strdup("test cpu");
    p->date = strdup("2026-11-23T12:00:00Z");
    p->threads = 2;
    p->batch = 1;
    p->warmup = 3;
    p->repeats = 10;
    p->input_name = strdup("image");
    p->input_rank = 3;
    p->input_shape[0] = 3;
    p->input_shape[1] = 100;
    p->input_shape[2] = 500;
    p->input_bytes = 600000;
    p->input_raw_bytes = 150000;
    p->block_sum_s = block_s[0] + block_s[1] + block_s[2];
    p->total_median_s = p->block_sum_s * 0.95;
    p->total_p10_s = p->total_median_s * 0.98;
    p->total_p90_s = p->total_median_s * 1.03;
    p->gap_s = p->block_sum_s - p->total_median_s;
    p->serialise_bytes_per_s = ser;
    p->n_nodes = 4;
    p->nodes = calloc(4, sizeof *p->nodes);
    const double node_s[4] = {block_s[0] * 0.7, block_s[0] * 0.3, block_s[1], block_s[2]};
    for (int i = 0; i < 4; i++) {
        sl_prof_node *n = &p->nodes[i];
        n->name = strdup(names[i]);
        n->op = strdup(ops[i]);
        n->n_inputs = 1;
        n->inputs = calloc(1, sizeof(char *));
        n->inputs[0] = strdup(i ? names[i - 1] : "image");
        n->out_rank = 1;
        n->out_shape[0] = out_bytes[i] / 4 ? out_bytes[i] / 4 : 1;
        n->out_bytes = out_bytes[i];
        n->median_s = node_s[i];
    }
    p->n_cuts = 4;
    p->cuts = calloc(4, sizeof *p->cuts);
    const int cut_node[4] = {-1, 1, 2, 3};
    for (int c = 0; c < 4; c++) {
        sl_prof_cut *cu = &p->cuts[c];
        cu->node_index = cut_node[c];
        cu->tensor = strdup(c ? names[cut_node[c]] : "image");
        cu->rank = 1;
        cu->bytes = c ? out_bytes[cut_node[c]] : p->input_bytes;
        cu->shape[0] = cu->bytes / 4;
    }
    p->cuts[1].n_tl = 1;
    p->cuts[1].tl = calloc(1, sizeof(sl_prof_tl));
    p->cuts[1].tl[0].config = strdup("pool");
    p->cuts[1].tl[0].enc_s = enc_s;
    p->cuts[1].tl[0].dec_s = dec_s;
    p->cuts[1].tl[0].bytes = 50000;
    p->n_blocks = 3;
    p->blocks = calloc(3, sizeof *p->blocks);
    for (int b = 0; b < 3; b++) {
        sl_prof_block *bl = &p->blocks[b];
        bl->from_cut = b;
        bl->to_cut = b + 1;
        bl->first_node = cut_node[b] + 1;
        bl->last_node = cut_node[b + 1];
        bl->median_s = block_s[b];
        bl->p10_s = block_s[b] * 0.98;
        bl->p90_s = block_s[b] * 1.05;
    }
    return p;
}

/* The three hosts of the hand-computed tests. */
static inline sl_profile *fx_device(void)
{
    const double b[3] = {0.050, 0.100, 0.005};
    return fx_profile(FX_HASH_A, b, 0.001, 0.0005, 1e9);
}

static inline sl_profile *fx_edge(void)
{
    const double b[3] = {0.002, 0.004, 0.0002};
    return fx_profile(FX_HASH_A, b, 0.0002, 0.0003, 2e9);
}

static inline sl_profile *fx_cloud(void)
{
    const double b[3] = {0.001, 0.002, 0.0001};
    return fx_profile(FX_HASH_A, b, 0.0001, 0.0001, 4e9);
}

/* A selection input over dev and edge (borrowed) on one device->edge hop of 10 Mbit/s and 20 ms
 * RTT, with no cloud and no constraints. */
static inline sl_select_input fx_two_tier(const sl_profile *dev, const sl_profile *edge)
{
    sl_select_input in;
    memset(&in, 0, sizeof in);
    in.device = dev;
    in.edge = edge;
    in.net.hop[SL_HOP_DEVICE_EDGE] = (sl_hop){1, 10e6, 0.020};
    return in;
}

/* fx_two_tier with a cloud (borrowed) behind the edge on an edge->cloud hop of 100 Mbit/s and
 * 5 ms RTT. */
static inline sl_select_input fx_three_tier(const sl_profile *dev, const sl_profile *edge,
                                            const sl_profile *cloud)
{
    sl_select_input in = fx_two_tier(dev, edge);
    in.cloud = cloud;
    in.net.hop[SL_HOP_EDGE_CLOUD] = (sl_hop){1, 100e6, 0.005};
    return in;
}

/* Fills p->blocks (p->n_cuts - 1 of them, block b from cut b to cut b + 1) from p->cuts'
 * node_index and p->nodes' median_s: each block's time is the sum of its nodes' times times
 * `fuse` (p10 = p90 = median), and the profile's block sum and totals are their sum. */
static inline void fx_chain_blocks(sl_profile *p, double fuse)
{
    p->n_blocks = p->n_cuts - 1;
    p->blocks = calloc((size_t)p->n_blocks, sizeof *p->blocks);
    for (int b = 0; b < p->n_blocks; b++) {
        sl_prof_block *bl = &p->blocks[b];
        bl->from_cut = b;
        bl->to_cut = b + 1;
        bl->first_node = p->cuts[b].node_index + 1;
        bl->last_node = p->cuts[b + 1].node_index;
        for (int i = bl->first_node; i <= bl->last_node; i++)
            bl->median_s += p->nodes[i].median_s;
        bl->median_s *= fuse;
        bl->p10_s = bl->p90_s = bl->median_s;
        p->block_sum_s += bl->median_s;
    }
    p->total_median_s = p->total_p10_s = p->total_p90_s = p->block_sum_s;
}

#endif

/* test_profile_io.c: profiles round-trip through JSON; truncated, invalid or inconsistent
 * profiles are refused with the field named; the network CSV reader and its missing-hop error. */
#include "common/status.h"
#include "common/fsutil.h"
#include "fixture.h"
#include "preprocessor/netcfg.h"
#include "preprocessor/profile_io.h"
#include "testutil.h"

static void test_round_trip(const char *dir)
{
    sl_profile *p = fx_device();
    char path[600];
    snprintf(path, sizeof path, "%s/dev.json", dir);
    CHECK_OK(sl_profile_write(path, p), sl_errmsg());
    sl_profile *q = NULL;
    CHECK_OK(sl_profile_read(path, &q), sl_errmsg());
    if (q) {
        CHECK_STR(q->model, "chain4");
        CHECK_STR(q->graph_hash, FX_HASH_A);
        CHECK_EQ(q->n_nodes, 4);
        CHECK_EQ(q->n_cuts, 4);
        CHECK_EQ(q->n_blocks, 3);
        CHECK_EQ(q->input_raw_bytes, 150000);
        CHECK_STR(q->nodes[2].inputs[0], "maxpool");
        CHECK_EQ(q->cuts[1].n_tl, 1);
        CHECK_STR(q->cuts[1].tl[0].config, "pool");
        CHECK_NEAR(q->cuts[1].tl[0].enc_s, 0.001, 1e-15);
        CHECK_NEAR(q->blocks[1].median_s, 0.100, 1e-15);
        CHECK_NEAR(q->serialise_bytes_per_s, 1e9, 0);
        CHECK_EQ(sl_profile_find_node(q, "conv2"), 2);
        CHECK_EQ(sl_profile_block_of_node(q, 1), 0);
        CHECK_EQ(sl_profile_block_of_node(q, 3), 2);
        CHECK_EQ(sl_profile_find_tl(q, 1, "pool"), 0);
        CHECK_EQ(sl_profile_find_tl(q, 2, "pool"), -1);
    }
    sl_profile_free(q);

    /* The checked-in CLI fixtures are this profile (and its siblings) written out. */
    char *text, data[600];
    size_t len;
    snprintf(data, sizeof data, "%s/tests/preprocessor/data/device.json",
             getenv("SL_SRC") ? getenv("SL_SRC") : "..");
    if (sl_read_file(data, &text, &len) == SL_OK) {
        char *mine = sl_profile_to_json(p);
        CHECK(mine && !strncmp(mine, text, strlen(mine)));
        free(mine);
        free(text);
    }

    /* An invalid profile is never written. */
    p->blocks[1].first_node = 0;
    CHECK(sl_profile_write(path, p) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "blocks[1].first_node");
    sl_profile_free(p);
}

/* Writes `text` to dir/bad.json and returns the reader's status (message in sl_errmsg()). */
static int read_text(const char *dir, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    if (sl_write_file_atomic(path, text, strlen(text))) return -100;
    sl_profile *p = NULL;
    int rc = sl_profile_read(path, &p);
    sl_profile_free(p);
    return rc;
}

/* The fixture's JSON with the first occurrence of `from` replaced by `to` (caller frees); NULL,
 * after a failed check, when it has no `from`. */
static char *edited(const char *from, const char *to)
{
    sl_profile *p = fx_device();
    char *js = sl_profile_to_json(p);
    sl_profile_free(p);
    char *out = tu_subst(js, from, to);
    free(js);
    return out;
}

static void expect_error(const char *dir, const char *from, const char *to, const char *field)
{
    char *js = edited(from, to);
    if (!js) return;
    int rc = read_text(dir, js);
    TU_CHECK_MSG(rc == SL_EFORMAT, "edit %s -> %s: status %d", from, to, rc);
    CHECK_CONTAINS(sl_errmsg(), field);
    free(js);
}

/* Version 2: wire, codec, load and range fields survive the round trip; the helpers select uses
 * read them, and fall back to block sums and raw bytes on a version 1 profile. */
static void test_round_trip_v2(const char *dir)
{
    sl_profile *p = fx_device();
    CHECK_NEAR(sl_profile_prefix_s(p, 2), p->blocks[0].median_s + p->blocks[1].median_s, 1e-15);
    CHECK_NEAR(sl_profile_suffix_s(p, 1), p->blocks[1].median_s + p->blocks[2].median_s, 1e-15);
    CHECK_EQ(sl_profile_wire(p, 0, -1).bytes, 150000);
    CHECK_EQ(sl_profile_wire(p, 1, 0).bytes, 50000);
    CHECK_EQ(sl_profile_wire(p, 2, -1).bytes, 100000);
    p->has_wire = p->has_ranges = 1;
    p->codec = strdup("zstd");
    p->codec_level = 3;
    p->codec_min_bytes = 64;
    p->images = 5;
    p->load_s = 0.002;
    p->raw_load_s = 0.0015;
    p->input_wire = (sl_prof_wire){40000, 0.0007, 0.0002};
    for (int c = 0; c < p->n_cuts; c++) {
        p->cuts[c].wire = (sl_prof_wire){p->cuts[c].bytes / 2 + 100, 0.001 * c, 0.0005 * c};
        p->cuts[c].prefix_s = 0.05 * c;
        p->cuts[c].suffix_s = 0.05 * (p->n_cuts - 1 - c);
    }
    p->cuts[1].tl[0].wire = (sl_prof_wire){30000, 0.0003, 0.0001};
    char path[600];
    snprintf(path, sizeof path, "%s/dev2.json", dir);
    CHECK_OK(sl_profile_write(path, p), sl_errmsg());
    sl_profile *q = NULL;
    CHECK_OK(sl_profile_read(path, &q), sl_errmsg());
    if (q) {
        CHECK(q->has_wire && q->has_ranges);
        CHECK_STR(q->codec, "zstd");
        CHECK_EQ(q->codec_level, 3);
        CHECK_EQ(q->codec_min_bytes, 64);
        CHECK_EQ(q->images, 5);
        CHECK_NEAR(q->load_s, 0.002, 1e-15);
        CHECK_NEAR(q->raw_load_s, 0.0015, 1e-15);
        CHECK_EQ(sl_profile_wire(q, 0, -1).bytes, 40000);
        CHECK_NEAR(sl_profile_wire(q, 0, -1).enc_s, 0.0007, 1e-15);
        CHECK_EQ(sl_profile_wire(q, 1, 0).bytes, 30000);
        CHECK_EQ(sl_profile_wire(q, 2, -1).bytes, 50100);
        CHECK_NEAR(sl_profile_wire(q, 2, -1).dec_s, 0.001, 1e-15);
        CHECK_NEAR(sl_profile_prefix_s(q, 2), 0.1, 1e-15);
        CHECK_NEAR(sl_profile_suffix_s(q, 1), 0.1, 1e-15);
    }
    sl_profile_free(q);
    sl_profile_free(p);
}

static void test_bad_profiles(const char *dir)
{
    sl_profile *p = fx_device();
    char *js = sl_profile_to_json(p);
    sl_profile_free(p);
    js[strlen(js) / 2] = 0; /* truncated */
    CHECK(read_text(dir, js) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "bad.json: invalid or truncated JSON");
    free(js);
    CHECK(read_text(dir, "[1, 2]") == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not a JSON object");

    expect_error(dir, "\"sl-profile\"", "\"sl-plan\"",
                 "format: 'sl-plan' is not an sl-profile file");
    expect_error(dir, "\"version\":\t1", "\"version\":\t3", "version: 3 is not supported");
    /* Version 2 requires the wire and range measurements. */
    expect_error(dir, "\"version\":\t1", "\"version\":\t2", "input.wire_bytes: missing");
    /* A huge finite time would overflow select's sums: refused, the field named (issue 13). */
    expect_error(dir, "\"block_sum_s\":\t", "\"block_sum_s\":\t1e308, \"x\": ",
                 "block_sum_s: 1e+308 s is beyond 1e+09 s");
    expect_error(dir, "\"enc_s\":", "\"enc_z\":", "cuts[1].tl[0].enc_s: missing");
    expect_error(dir, "\"serialise_bytes_per_s\":", "\"x\":", "serialise_bytes_per_s: missing");
    expect_error(dir, "\"raw_bytes\":\t150000", "\"raw_bytes\":\t\"many\"",
                 "input.raw_bytes: not a number");
    expect_error(dir, "\"graph_hash\":\t\"aaaa", "\"graph_hash\":\t\"zzzz",
                 "graph_hash: not 64 hex digits");
    expect_error(dir, "\"inputs\":\t[\"conv1\"]", "\"inputs\":\t[\"conv7\"]",
                 "nodes[1].inputs: 'conv7' is not a node");
    expect_error(dir, "\"out_bytes\":\t800000", "\"out_bytes\":\t-5",
                 "nodes[0].out_bytes: -5 is below 0");
    expect_error(dir, "\"config\":\t\"pool\"", "\"config\":\t\"conv-r4\"", "cuts[1].tl[0].config");
    expect_error(dir, "\"from_cut\":\t1", "\"from_cut\":\t2", "blocks[1].from_cut");
    expect_error(dir, "\"tensor\":\t\"maxpool\"", "\"tensor\":\t\"conv2\"",
                 "cuts[1].tensor: not the name of node_index");
}

/* Every truncation is refused and random byte damage never crashes the reader: whatever it
 * returns, an accepted profile still validates. */
static void test_damage(void)
{
    sl_profile *p = fx_device();
    char *js = sl_profile_to_json(p);
    sl_profile_free(p);
    size_t len = strlen(js);
    int refused = 0, tried = 0;
    for (size_t cut = 0; cut < len - 1; cut += 3) {
        char saved = js[cut];
        js[cut] = 0;
        sl_profile *q = NULL;
        refused += sl_profile_parse(js, "cut.json", &q) == SL_EFORMAT;
        tried++;
        sl_profile_free(q);
        js[cut] = saved;
    }
    CHECK_EQ(refused, tried);
    static const char junk[] = "\"{}[],:0-9ex";
    unsigned seed = 7;
    int accepted = 0;
    for (int round = 0; round < 2000; round++) {
        char *m = strdup(js);
        for (int k = 0; k <= round % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            m[at] = junk[(seed >> 8) % (sizeof junk - 1)];
        }
        sl_profile *q = NULL;
        int rc = sl_profile_parse(m, "damaged.json", &q);
        if (rc == SL_OK) {
            accepted++;
            CHECK_OK(sl_profile_validate(q, "damaged.json"), sl_errmsg());
        } else {
            CHECK(rc == SL_EFORMAT);
            CHECK_CONTAINS(sl_errmsg(), "damaged.json");
        }
        sl_profile_free(q);
        free(m);
    }
    printf("damaged profiles: %d of 2000 still parse and validate\n", accepted);
    free(js);
}

static void test_netcfg(const char *dir)
{
    sl_netcfg net;
    memset(&net, 0, sizeof net);
    CHECK_OK(sl_netcfg_parse_csv("source,destination,ping(ms),bandwidth(Mbps)\n"
                                 "device,edge,20,10\n"
                                 "# the uplink to the data centre\n"
                                 "cloud , edge , 5.5 , 100\n",
                                 "net.csv", &net),
             sl_errmsg());
    CHECK(net.hop[SL_HOP_DEVICE_EDGE].set);
    CHECK_NEAR(net.hop[SL_HOP_DEVICE_EDGE].rtt_s, 0.020, 1e-15);
    CHECK_NEAR(net.hop[SL_HOP_DEVICE_EDGE].bandwidth_bps, 10e6, 1e-6);
    CHECK_NEAR(net.hop[SL_HOP_EDGE_CLOUD].rtt_s, 0.0055, 1e-15);
    CHECK_NEAR(net.hop[SL_HOP_EDGE_CLOUD].bandwidth_bps, 100e6, 1e-6);
    CHECK_NEAR(sl_hop_transfer_s(&net.hop[SL_HOP_DEVICE_EDGE], 1.25e6), 1.0, 1e-12);
    CHECK_OK(sl_netcfg_require(&net, 1, "net.csv"), sl_errmsg());

    sl_netcfg only = {0};
    CHECK_OK(sl_netcfg_parse_csv("device,edge,20,10\n", "net.csv", &only), sl_errmsg());
    CHECK_OK(sl_netcfg_require(&only, 0, "net.csv"), sl_errmsg());
    CHECK(sl_netcfg_require(&only, 1, "net.csv") == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "net.csv: no edge->cloud hop");
    sl_netcfg cloud_only = {0};
    CHECK_OK(sl_netcfg_parse_csv("edge,cloud,5,100\n", "n.csv", &cloud_only), sl_errmsg());
    CHECK(sl_netcfg_require(&cloud_only, 0, "n.csv") == SL_ENOTFOUND);
    CHECK_CONTAINS(sl_errmsg(), "n.csv: no device->edge hop");

    sl_netcfg keep = {0};
    CHECK(sl_netcfg_parse_csv("device,edge,20\n", "n.csv", &keep) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:1: expected 4 fields");
    CHECK(sl_netcfg_parse_csv("device,edge,20,10\ndevice,fog,1,1\n", "n.csv", &keep) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "n.csv:2: unknown tier 'fog'");
    CHECK(!keep.hop[SL_HOP_DEVICE_EDGE].set); /* on error nothing is changed */
    CHECK(sl_netcfg_parse_csv("device,edge,-3,10\n", "n.csv", &keep) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "ping '-3'");
    CHECK(sl_netcfg_parse_csv("device,edge,3,0\n", "n.csv", &keep) == SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "bandwidth '0'");
    /* The device may send straight to the cloud (issue 17): a device,cloud row is a hop. */
    CHECK_OK(sl_netcfg_parse_csv("device,cloud,3,10\n", "n.csv", &keep), sl_errmsg());
    CHECK(keep.hop[SL_HOP_DEVICE_CLOUD].set && !keep.hop[SL_HOP_DEVICE_EDGE].set);
    keep.hop[SL_HOP_DEVICE_CLOUD].set = 0;

    char path[600];
    snprintf(path, sizeof path, "%s/none.csv", dir);
    CHECK(sl_netcfg_read_csv(path, &keep) == SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "none.csv");
}

int main(void)
{
    const char *dir = tu_tmpdir();
    test_round_trip(dir);
    test_round_trip_v2(dir);
    test_bad_profiles(dir);
    test_damage();
    test_netcfg(dir);
    tu_rmtree(dir);
    return TU_DONE();
}

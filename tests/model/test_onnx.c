/* test_onnx.c: the ONNX importer on models built here with protobuf-c — a small valid CNN
 * (names from its weights, shapes inferred, Identity and constant shape arithmetic folded,
 * x * sigmoid(x) fused into silu), and malformed or unsupported files, each refused with a
 * message naming what is wrong: a truncated file, an initializer whose data does not fit its
 * dims, a dangling input, a cycle, an unknown op, an opset outside 11-17, an asymmetric pool. */
#include "common/status.h"
#include "model/onnx.h"
#include "onnx.pb-c.h"
#include "testutil.h"

#include <stdint.h>
#include <sys/wait.h>

static const char *tmp;

/* ---- building models: every string and array lives in a static pool, freed at exit ------ */

static Onnx__TensorProto *tensor(const char *name, const int64_t *dims, int nd, const float *data,
                                 size_t nbytes)
{
    Onnx__TensorProto *t = calloc(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->n_dims = (size_t)nd;
    t->dims = (int64_t *)dims;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = 1;
    t->raw_data.data = (uint8_t *)data;
    t->raw_data.len = nbytes;
    return t;
}

static Onnx__AttributeProto *attr_ints(const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = calloc(1, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = n;
    a->ints = (int64_t *)v;
    return a;
}

static Onnx__NodeProto *node(const char *name, const char *op, const char **in, size_t nin,
                             const char *out, Onnx__AttributeProto **attrs, size_t nattrs)
{
    Onnx__NodeProto *n = calloc(1, sizeof *n);
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->n_input = nin;
    n->input = (char **)in;
    n->n_output = 1;
    n->output = calloc(1, sizeof(char *));
    n->output[0] = (char *)out;
    n->n_attribute = nattrs;
    n->attribute = attrs;
    return n;
}

static Onnx__ValueInfoProto *image_input(const char *name, int64_t c, int64_t h, int64_t w)
{
    Onnx__TensorShapeProto__Dimension **dims = calloc(4, sizeof *dims);
    int64_t d[4] = {1, c, h, w};
    for (int i = 0; i < 4; i++) {
        dims[i] = calloc(1, sizeof **dims);
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dims[i]->dim_value = d[i];
    }
    Onnx__TensorShapeProto *sp = calloc(1, sizeof *sp);
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = 4;
    sp->dim = dims;
    Onnx__TypeProto__Tensor *tt = calloc(1, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sp;
    Onnx__TypeProto *tp = calloc(1, sizeof *tp);
    onnx__type_proto__init(tp);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    Onnx__ValueInfoProto *v = calloc(1, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    v->type = tp;
    return v;
}

static Onnx__ValueInfoProto *output(const char *name)
{
    Onnx__ValueInfoProto *v = calloc(1, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    return v;
}

/* Packs a model of `nodes` and `inits` at `opset` into path (first `keep` bytes; 0 = all). */
static void write_model(const char *path, Onnx__NodeProto **nodes, size_t nn,
                        Onnx__TensorProto **inits, size_t ni, const char *out, int opset,
                        size_t keep)
{
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = "test";
    g.n_node = nn;
    g.node = nodes;
    g.n_initializer = ni;
    g.initializer = inits;
    Onnx__ValueInfoProto *in = image_input("image", 3, 8, 8), *o = output(out);
    g.n_input = 1;
    g.input = &in;
    g.n_output = 1;
    g.output = &o;
    Onnx__OperatorSetIdProto os;
    onnx__operator_set_id_proto__init(&os);
    os.domain = "";
    os.has_version = 1;
    os.version = opset;
    Onnx__OperatorSetIdProto *osp = &os;
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 7;
    m.graph = &g;
    m.n_opset_import = 1;
    m.opset_import = &osp;
    size_t len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(&m, buf);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, keep && keep < len ? keep : len, f);
    fclose(f);
    free(buf);
}

/* The valid model: conv (through an Identity of its weight) -> x * sigmoid(x) -> global pool ->
 * reshape to [1, -1] from Shape / Gather / Unsqueeze / Concat -> Gemm. */
static float w1[8 * 3 * 3 * 3], b1[8], w2[4 * 8], b2[4];
static const int64_t w1d[4] = {8, 3, 3, 3}, b1d[1] = {8}, w2d[2] = {4, 8}, b2d[1] = {4};
static const int64_t k3[2] = {3, 3}, p1[4] = {1, 1, 1, 1}, zero1[1] = {0}, minus1[1] = {-1};
static const int64_t ax0[1] = {0}, pool_k[2] = {2, 2}, pool_asym[4] = {0, 0, 1, 1};

static const char *in_conv[] = {"image", "w_id", "conv1.bias"}, *in_id[] = {"conv1.weight"};
static const char *in_sig[] = {"c"}, *in_mul[] = {"c", "s"}, *in_gap[] = {"m"};
static const char *in_shape[] = {"gap"}, *in_gather[] = {"shape", "zero"};
static const char *in_unsq[] = {"n"}, *in_cat[] = {"n1", "minus1"}, *in_resh[] = {"gap", "target"};
static const char *in_gemm[] = {"flat", "fc.weight", "fc.bias"};

static Onnx__TensorProto *const_i64(const char *name, const int64_t *v, int64_t n)
{
    static int64_t dims[16];
    static int k;
    dims[k] = n;
    Onnx__TensorProto *t = tensor(name, &dims[k++], 1, NULL, 0);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->has_raw_data = 0;
    t->n_int64_data = (size_t)n;
    t->int64_data = (int64_t *)v;
    return t;
}

/* Fills nodes[] / inits[] with the valid model; returns the node count (*ni the inits). */
static size_t valid_model(Onnx__NodeProto **nodes, Onnx__TensorProto **inits, size_t *ni)
{
    for (size_t i = 0; i < sizeof w1 / sizeof *w1; i++) w1[i] = (float)((i % 7) - 3) / 10;
    for (size_t i = 0; i < sizeof w2 / sizeof *w2; i++) w2[i] = (float)((i % 5) - 2) / 10;
    inits[0] = tensor("conv1.weight", w1d, 4, w1, sizeof w1);
    inits[1] = tensor("conv1.bias", b1d, 1, b1, sizeof b1);
    inits[2] = tensor("fc.weight", w2d, 2, w2, sizeof w2);
    inits[3] = tensor("fc.bias", b2d, 1, b2, sizeof b2);
    inits[4] = const_i64("zero", zero1, 1);
    inits[5] = const_i64("minus1", minus1, 1);
    *ni = 6;
    Onnx__AttributeProto **ca = calloc(2, sizeof *ca);
    ca[0] = attr_ints("kernel_shape", k3, 2);
    ca[1] = attr_ints("pads", p1, 4);
    Onnx__AttributeProto **ua = calloc(1, sizeof *ua);
    ua[0] = attr_ints("axes", ax0, 1);
    size_t n = 0;
    nodes[n++] = node("/w/Identity", "Identity", in_id, 1, "w_id", NULL, 0);
    nodes[n++] = node("/conv1/Conv", "Conv", in_conv, 3, "c", ca, 2);
    nodes[n++] = node("/act/Sigmoid", "Sigmoid", in_sig, 1, "s", NULL, 0);
    nodes[n++] = node("/act/Mul", "Mul", in_mul, 2, "m", NULL, 0);
    nodes[n++] = node("/pool/GlobalAveragePool", "GlobalAveragePool", in_gap, 1, "gap", NULL, 0);
    nodes[n++] = node("/Shape", "Shape", in_shape, 1, "shape", NULL, 0);
    nodes[n++] = node("/Gather", "Gather", in_gather, 2, "n", NULL, 0);
    nodes[n++] = node("/Unsqueeze", "Unsqueeze", in_unsq, 1, "n1", ua, 1);
    nodes[n++] = node("/Concat", "Concat", in_cat, 2, "target", NULL, 0);
    nodes[n++] = node("/Reshape", "Reshape", in_resh, 2, "flat", NULL, 0);
    nodes[n++] = node("/fc/Gemm", "Gemm", in_gemm, 3, "logits", NULL, 0);
    nodes[n - 1]->n_attribute = 1;
    nodes[n - 1]->attribute = calloc(1, sizeof(Onnx__AttributeProto *));
    Onnx__AttributeProto *tb = calloc(1, sizeof *tb);
    onnx__attribute_proto__init(tb);
    tb->name = "transB";
    tb->has_i = 1;
    tb->i = 1;
    tb->has_type = 1;
    tb->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    nodes[n - 1]->attribute[0] = tb;
    return n;
}

/* Imports path and returns the error message ("" on success, the graph freed). */
static const char *import_msg(const char *path)
{
    static char msg[1024];
    sl_graph *g = NULL;
    int rc = sl_onnx_import(path, NULL, &g);
    snprintf(msg, sizeof msg, "%s", rc ? sl_errmsg() : "");
    if (rc) CHECK(g == NULL);
    sl_graph_free(g);
    return msg;
}

/* Writes the model (opset 13) to the file `name` in tmp with nodes[k] swapped for `swap`, then
 * restores nodes[k] and frees swap (its attributes stay the caller's); returns import_msg of it. */
static const char *import_msg_swapped(const char *name, Onnx__NodeProto **nodes, size_t nn,
                                      Onnx__TensorProto **inits, size_t ni, size_t k,
                                      Onnx__NodeProto *swap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    Onnx__NodeProto *keep = nodes[k];
    nodes[k] = swap;
    write_model(path, nodes, nn, inits, ni, "logits", 13, 0);
    nodes[k] = keep;
    free(swap->output);
    free(swap);
    return import_msg(path);
}

int main(void)
{
    tmp = tu_tmpdir();
    char path[600];
    Onnx__NodeProto *nodes[16];
    Onnx__TensorProto *inits[8];
    size_t ni, nn = valid_model(nodes, inits, &ni);

    /* The valid model. */
    snprintf(path, sizeof path, "%s/ok.onnx", tmp);
    write_model(path, nodes, nn, inits, ni, "logits", 13, 0);
    sl_graph *g = NULL;
    CHECK_OK(sl_onnx_import(path, NULL, &g), sl_errmsg());
    if (g) {
        CHECK_STR(g->name, "ok");
        CHECK_STR(g->input_name, "image");
        CHECK_EQ(g->nnodes, 5); /* conv1, silu, pool, flatten, fc */
        const char *want[5] = {"conv1", "act.Mul", "pool.GlobalAveragePool", "Reshape", "fc"};
        const sl_op ops[5] = {SL_OP_CONV2D, SL_OP_SILU, SL_OP_ADAPTIVE_AVG_POOL, SL_OP_FLATTEN,
                              SL_OP_LINEAR};
        for (int i = 0; i < 5 && i < g->nnodes; i++) {
            CHECK_STR(g->nodes[i].name, want[i]);
            CHECK(g->nodes[i].op == ops[i]);
        }
        CHECK_EQ(g->nodes[0].out.d[0], 8);
        CHECK_EQ(g->nodes[0].out.d[1], 8); /* pad 1 keeps 8 x 8 */
        CHECK_EQ(g->nodes[4].out.ndim, 1);
        CHECK_EQ(g->nodes[4].out.d[0], 4);
        float got[32];
        CHECK_OK(sl_tensor_to_buffer(sl_node_param(&g->nodes[4], "weight")->t, got, sizeof got),
                 sl_torch_last_error());
        CHECK(!memcmp(got, w2, sizeof got)); /* transB = 1: stored as is */
    }
    sl_graph_free(g);

    /* Asymmetric conv padding (as TensorFlow's SAME writes it): a pad node before the conv. */
    static const int64_t p_asym[4] = {1, 1, 0, 0};
    snprintf(path, sizeof path, "%s/convpad.onnx", tmp);
    const Onnx__AttributeProto *keep_pads = nodes[1]->attribute[1];
    nodes[1]->attribute[1] = attr_ints("pads", p_asym, 4);
    write_model(path, nodes, nn, inits, ni, "logits", 13, 0);
    g = NULL;
    CHECK_OK(sl_onnx_import(path, NULL, &g), sl_errmsg());
    if (g && g->nnodes == 6) {
        CHECK(g->nodes[0].op == SL_OP_PAD);
        CHECK_EQ(g->nodes[0].a.pads[0], 1); /* left */
        CHECK_EQ(g->nodes[0].a.pads[1], 0); /* right */
        CHECK_EQ(g->nodes[0].a.pads[2], 1); /* top */
        CHECK_EQ(g->nodes[0].a.pads[3], 0); /* bottom */
        CHECK_EQ(g->nodes[1].a.pad[0], 0);
        CHECK_EQ(g->nodes[1].out.d[1], 7);
        CHECK_EQ(g->nodes[1].out.d[2], 7);
    } else {
        CHECK(g && g->nnodes == 6);
    }
    sl_graph_free(g);
    free(nodes[1]->attribute[1]);
    nodes[1]->attribute[1] = (Onnx__AttributeProto *)keep_pads;

    /* Truncated. */
    snprintf(path, sizeof path, "%s/truncated.onnx", tmp);
    write_model(path, nodes, nn, inits, ni, "logits", 13, 200);
    CHECK_CONTAINS(import_msg(path), "does not parse");

    /* An initializer whose data does not fit its dims. */
    snprintf(path, sizeof path, "%s/short.onnx", tmp);
    Onnx__TensorProto *good = inits[0];
    inits[0] = tensor("conv1.weight", w1d, 4, w1, sizeof w1 - 12);
    write_model(path, nodes, nn, inits, ni, "logits", 13, 0);
    const char *m = import_msg(path);
    CHECK_CONTAINS(m, "tensor 'conv1.weight'");
    CHECK_CONTAINS(m, "need 216 values");
    free(inits[0]);
    inits[0] = good;

    /* A dangling input. */
    const char *in_bad[] = {"nowhere"};
    m = import_msg_swapped("dangling.onnx", nodes, nn, inits, ni, 2,
                           node("/act/Sigmoid", "Sigmoid", in_bad, 1, "s", NULL, 0));
    CHECK_CONTAINS(m, "node '/act/Sigmoid'");
    CHECK_CONTAINS(m, "input 'nowhere' is not produced by any node");

    /* A cycle: the sigmoid reads the product it feeds. */
    const char *in_cyc[] = {"m"};
    m = import_msg_swapped("cycle.onnx", nodes, nn, inits, ni, 2,
                           node("/act/Sigmoid", "Sigmoid", in_cyc, 1, "s", NULL, 0));
    CHECK_CONTAINS(m, "cycle");
    CHECK_CONTAINS(m, "'/act/Sigmoid'");
    CHECK_CONTAINS(m, "'/act/Mul'");

    /* An op outside the table: the node, the op and the opset are named. */
    m = import_msg_swapped("lrn.onnx", nodes, nn, inits, ni, 2,
                           node("/act/LRN", "LRN", in_sig, 1, "s", NULL, 0));
    CHECK_CONTAINS(m, "node '/act/LRN' (LRN, opset 13)");
    CHECK_CONTAINS(m, "op 'LRN' is not supported");

    /* An opset outside 11-17. */
    snprintf(path, sizeof path, "%s/opset9.onnx", tmp);
    write_model(path, nodes, nn, inits, ni, "logits", 9, 0);
    CHECK_CONTAINS(import_msg(path), "opset 9 is not supported");

    /* A translation the IR cannot express: asymmetric pool padding. */
    Onnx__AttributeProto **pa = calloc(2, sizeof *pa);
    pa[0] = attr_ints("kernel_shape", pool_k, 2);
    pa[1] = attr_ints("pads", pool_asym, 4);
    m = import_msg_swapped("asym.onnx", nodes, nn, inits, ni, 4,
                           node("/pool/MaxPool", "MaxPool", in_gap, 1, "gap", pa, 2));
    CHECK_CONTAINS(m, "node '/pool/MaxPool' (MaxPool, opset 13)");
    CHECK_CONTAINS(m, "asymmetric pads");

    /* The command: a refused model writes nothing. */
    const char *bin = getenv("SL_BIN");
    if (bin) {
        char cmd[2048], out[600];
        snprintf(out, sizeof out, "%s/cycle.h5", tmp);
        snprintf(cmd, sizeof cmd, "'%s/sl-preprocess' import --onnx '%s/cycle.onnx' -o '%s' 2>/dev/null",
                 bin, tmp, out);
        int st = system(cmd);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        CHECK(access(out, F_OK) != 0);
        /* Usage errors (exit 2): no source or two, --arch or --classes with --onnx, unpaired
         * --mean / --std, and --mean for the wrong number of channels. */
        const char *usage[] = {"-o x.h5", "--onnx m.onnx --state-dict s.h5 -o x.h5",
                               "--onnx m.onnx --arch resnet18 -o x.h5",
                               "--onnx m.onnx --classes 3 -o x.h5",
                               "--onnx m.onnx --mean 0.5,0.5,0.5 -o x.h5"};
        for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
            snprintf(cmd, sizeof cmd, "'%s/sl-preprocess' import %s 2>/dev/null", bin, usage[i]);
            st = system(cmd);
            TU_CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 2, "import %s", usage[i]);
        }
        snprintf(cmd, sizeof cmd,
                 "'%s/sl-preprocess' import --onnx '%s/ok.onnx' --mean 0.5,0.5 --std 1,1 -o '%s' "
                 "2>/dev/null",
                 bin, tmp, out);
        st = system(cmd);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
        CHECK(access(out, F_OK) != 0);
    }
    tu_rmtree(tmp);
    return TU_DONE();
}

/*  fl_qat - quantisation-aware training (int8 fake quantisation with a
    straight-through estimator), int8 export and integer-only inference.

    Why a header of its own rather than a section of fl_quant.h: fl_quant's
    encoding (updates into Z_2^32 for secure aggregation) and QAT share a
    word but nothing else: different callers (the federated pipeline vs the
    models), different owners, no shared type.  One header per concept keeps
    each findable by its file name (CONVENTIONS "Layout").

    Scheme (Jacob et al., "Quantization and Training of Neural Networks for
    Efficient Integer-Arithmetic-Only Inference", CVPR 2018, §2 and §3;
    per-channel weight scales as in Krishnamoorthi, "Quantizing deep
    convolutional networks for efficient inference: A whitepaper", 2018,
    §2.3 and §3):

      weights      symmetric int8 in [-127, 127], q = clamp(round(w / s)),
                   s = max|w| / 127 over the tensor (FL_MODEL_QAT_PER_TENSOR)
                   or over each output row (FL_MODEL_QAT_PER_CHANNEL);
                   zero point 0.  Because s comes from max|w| no weight is
                   ever clamped.
      activations  affine int8 in [-128, 127] (the input of every dense
                   layer: the model's input and each hidden ReLU output),
                   x_hat = (clamp(round(x / s) + z, -128, 127) - z) s with
                   (s, z) from a range [a, b] that is widened to contain 0
                   and "nudged" so that 0 is exactly representable (Jacob et
                   al. §3.1; TensorFlow's FakeQuantWithMinMaxVars).  [a, b]
                   is an exponential moving average of the batch min / max
                   with decay FL_QAT_EMA_DECAY (Jacob et al. §3.1 "EMA of
                   min and max"); the first batch sets it.
      rounding     round half away from zero (C roundf) everywhere, in the
                   fake-quant path and the integer path alike.
      biases       float during training; int32 at export with scale
                   s_in * s_w (Jacob et al. §2.4), so they add to the int32
                   accumulator directly.

    Straight-through estimator (Bengio, Léonard, Courville, "Estimating or
    Propagating Gradients Through Stochastic Neurons for Conditional
    Computation", arXiv:1308.3432, 2013; the clipped variant of Jacob et al.
    §3 / TensorFlow FakeQuantWithMinMaxVarsGradient):
        d x_hat / d x = 1 if lo <= x <= hi, else 0,
    where [lo, hi] = [(-128 - z) s, (127 - z) s] is the nudged range used by
    the forward pass.  For weights the same rule is the identity (nothing is
    clamped).  Scales and ranges are treated as constants (no gradient flows
    into them).

    What federated averaging moves: the FLOAT master weights.  The flat
    parameter vector stays float32 and holds weights and biases only; the
    fake-quantised copies are recomputed from it at every forward pass.

    Activation ranges are LOCAL STATE, not parameters: each member keeps
    its own running min/max inside its model object (across rounds, since
    fl_client keeps the model).  Reasons: (1) the flat vector is clipped,
    noised (DP), robustly aggregated and stepped by optimizers with weight
    decay; statistics with no gradient do not belong in it; (2) min/max of
    a member's activations describe extremes of its data, exactly what the
    system is built not to publish.  Consequence: a freshly loaded model
    has no ranges; its first forward pass sets them from that batch (a
    calibration), and the int8 export is made where data is, by a member.

    When ranges move: forward records each batch's min/max and uses the
    current ranges (the first forward initialises empty ones); backward,
    which only training calls, folds the recorded min/max into the EMA
    after computing its STE masks with the ranges the forward used.  So
    evaluation (forward only) never moves the ranges and predictions are
    repeatable.

    The int8 model and file format are documented with fl_qat_int8_save.
*/
#ifndef FL_QAT_H_INCLUDED
#define FL_QAT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_QAT_QMIN       (-128)       /* activations: int8 */
#define FL_QAT_QMAX       127
#define FL_QAT_WMAX       127          /* weights: [-127, 127] (symmetric, no -128) */
#define FL_QAT_EMA_DECAY  0.99         /* running min/max: r = d r + (1 - d) batch */
#define FL_QAT_MAX_LAYERS 9u           /* FL_MODEL_MAX_HIDDEN + 1 */
#define FL_QAT_FILE_VERSION 1u
#define FL_QAT_CHECKSUMBYTES 32u       /* BLAKE2b-256 trailer of the int8 file */

/* --- fake quantisation, element-wise ----------------------------------------- */

/*  Affine int8 parameters of a range: scale s > 0, zero point z in
    [-128, 127], and the representable interval [lo, hi] (the STE's pass
    band). */
typedef struct {
    float scale;
    int32_t zero_point;
    float lo, hi;
} fl_qat_affine_t;

/*  (s, z, lo, hi) for the range [min, max] (finite, min <= max): the range
    is widened to contain 0, given a width of at least 1e-6, s = (max - min)
    / 255, z = clamp(round(-128 - min / s), -128, 127) (the nudge: 0 maps to
    the integer z exactly), lo = (-128 - z) s, hi = (127 - z) s. */
void fl_qat_affine_from_range (fl_qat_affine_t *qp, float min, float max);

/*  The int8 code of one value: clamp(round(x / s) + z, -128, 127). */
int32_t fl_qat_quantize (float x, const fl_qat_affine_t *qp);

/*  out (n) = fake-quantised inp (n): (quantize(x) - z) s.  out may alias inp. */
void fl_qat_fake_quant_forward (float *out, const float *inp, size_t n, const fl_qat_affine_t *qp);

/*  STE: dinp (n) = dout * [lo <= inp <= hi], inp the forward's INPUT.
    dinp may alias dout. */
void fl_qat_fake_quant_backward (float *dinp, const float *dout, const float *inp, size_t n,
                                 const fl_qat_affine_t *qp);

/*  Weight scales of w (rows, cols): scales (rows) = max|w_r| / 127 per row
    (mode FL_MODEL_QAT_PER_CHANNEL) or max|w| / 127 written to every row
    (FL_MODEL_QAT_PER_TENSOR); an all-zero row (tensor) gets scale 1. */
void fl_qat_weight_scales (float *scales, const float *w, size_t rows, size_t cols, uint32_t mode);

/*  wq (rows, cols) = clamp(round(w / s_r), -127, 127) s_r; wq may alias w.
    If q is not NULL it receives the int8 codes (rows, cols). */
void fl_qat_fake_quant_weight (float *wq, int8_t *q, const float *w, const float *scales,
                               size_t rows, size_t cols);

/* --- a QAT stack of dense layers ----------------------------------------------- */

/*  The quantisation-aware forward/backward of the built-in models:
    L dense layers, ReLU after each but the last, widths width[0] (inputs)
    .. width[L] (outputs); every dense layer's input and weight are fake-
    quantised as above.  The stack owns activation buffers, ranges and
    fake-quantised weight copies; the PARAMETERS stay with the model, passed
    in per call as per-layer pointers (w[l] (width[l+1], width[l]) row-major,
    b[l] (width[l+1])), so the model's flat vector is untouched by QAT.
    logreg is the L = 1 case. */
typedef struct fl_qat_stack_t fl_qat_stack_t;

/*  NULL (logged) on L outside 1..FL_QAT_MAX_LAYERS, a zero width, a mode
    other than per-tensor / per-channel, or no memory. */
fl_qat_stack_t *fl_qat_stack_new (const size_t *width, size_t n_layers, uint32_t mode);
void fl_qat_stack_destroy (fl_qat_stack_t **self_p);

/*  logits (n, width[L]) for x (n, width[0]).  Uses the current ranges
    (initialising empty ones from this batch) and records this batch's
    min/max for the following backward.  -1 on no memory. */
int fl_qat_stack_forward (fl_qat_stack_t *self, float *const *w, float *const *b, const float *x,
                          size_t n, float *logits);

/*  Overwrites dw[l], db[l] with the STE gradient of the loss given dlogits
    (n, width[L]), for the same x, n, w, b as the preceding forward; then
    folds that forward's batch min/max into the running ranges. */
void fl_qat_stack_backward (fl_qat_stack_t *self, float *const *w, float *const *dw,
                            float *const *db, const float *x, size_t n, const float *dlogits);

/*  The affine parameters of layer l's input as used by the LAST forward
    (for tests and export); -1 if l >= L or no forward has run. */
int fl_qat_stack_input_qparams (const fl_qat_stack_t *self, size_t l, fl_qat_affine_t *out);

/*  The running range of layer l's input: -1 if l >= L or never observed. */
int fl_qat_stack_range (const fl_qat_stack_t *self, size_t l, float *min, float *max);

/* --- int8 model: export, file, integer inference -------------------------------- */

typedef struct fl_qat_int8_t fl_qat_int8_t;

/*  The int8 model of a stack with parameters (w, b): int8 weights and
    their scales, int32 biases, each layer's input (s, z) from the CURRENT
    running ranges.  NULL (logged) if some range was never observed (no
    forward yet), a scale ratio is outside what the requantisation handles
    (2^-31 .. 2^30), or no memory. */
fl_qat_int8_t *fl_qat_int8_from_stack (const fl_qat_stack_t *stack, float *const *w,
                                       float *const *b);
void fl_qat_int8_destroy (fl_qat_int8_t **self_p);

/*  Writes the int8 model atomically (path.tmp, fsync, rename).  Format
    version FL_QAT_FILE_VERSION, all integers and floats little-endian:

        "FLQ8"                       4 bytes magic
        u32 version                  FL_QAT_FILE_VERSION
        u32 mode                     1 per tensor, 2 per output channel
        u32 L                        dense layers, 1..FL_QAT_MAX_LAYERS
        u32 width[L + 1]             inputs .. outputs, each 1..65536
        for each layer l (R = width[l+1] rows, C = width[l] columns):
            f32 in_scale, i32 in_zero_point      the layer's input (s, z)
            f32 w_scale[R]                       per row (all equal per tensor)
            i32 bias[R]                          scale in_scale * w_scale[r]
            i8  weight[R * C]                    row-major, in [-127, 127]
        32 bytes BLAKE2b-256 of everything above

    Layer l's output (s, z) is layer l+1's input (s, z); hidden layers are
    followed by ReLU; the last layer's output is dequantised to float
    logits.  -1 (logged) on I/O error. */
int fl_qat_int8_save (const fl_qat_int8_t *self, const char *path);

/*  Reads a file written by fl_qat_int8_save.  Sizes are checked against
    the limits above and against the file's length BEFORE allocating; the
    checksum, the magic, the version, every scale (finite, > 0), zero
    point (in [-128, 127]) and weight (not -128) are checked.  NULL
    (logged with the reason) on any failure. */
fl_qat_int8_t *fl_qat_int8_load (const char *path);

size_t fl_qat_int8_num_inputs (const fl_qat_int8_t *self);
size_t fl_qat_int8_num_outputs (const fl_qat_int8_t *self);
size_t fl_qat_int8_num_layers (const fl_qat_int8_t *self);

/*  Bytes of the file fl_qat_int8_save writes for this model. */
size_t fl_qat_int8_file_bytes (const fl_qat_int8_t *self);

/*  Integer-only inference: logits (n, outputs) for x (n, inputs).
    Per layer: the input is int8 (the float x is quantised once with layer
    0's (s, z)); int8 x int8 products are accumulated in int32 (exact: at
    most 128 * 127 * 65536 < 2^31 in magnitude), the zero-point term
    z * sum_k w[r][k] and the int32 bias are added in int64 and the result
    saturated to int32 (Jacob et al. §2.3-2.4); a hidden layer's
    accumulator is then requantised with a fixed-point multiplier:
    M = s_in s_w[r] / s_out = M0 2^-k with M0 in [2^30, 2^31), out =
    z_out + round_half_away(acc * M0 / 2^k) (64-bit product, one rounding;
    gemmlowp does the same in two steps), clamped to [z_out, 127] (ReLU
    fused) ; the last layer returns acc * s_in * s_w[r] as float.
    Plain C loops (no BLAS, no SIMD intrinsics).  -1 on no memory. */
int fl_qat_int8_predict (const fl_qat_int8_t *self, const float *x, size_t n, float *logits);

#ifdef __cplusplus
}
#endif
#endif
